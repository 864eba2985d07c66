"""Documents rendered outside a request (statements, mails): the pages' templates,
catalogs and Babel filters, without the request-bound parts (static, CSRF).

Built on first use and kept for the process (nothing at import time).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from jinja2 import Environment, FileSystemLoader

from streamsvc.web.i18n import LANGUAGES, load_catalogs
from streamsvc.web.rendering import TEMPLATES_DIR, environment


@cache
def _environments() -> dict[str, Environment]:
    catalogs = load_catalogs()
    loader = FileSystemLoader(TEMPLATES_DIR)
    return {language: environment(loader, language, catalogs[language]) for language in LANGUAGES}


def render_document(template: str, language: str, context: Mapping[str, object]) -> str:
    """`documents/<template>` in `language` (one of nl, en, fr)."""
    return _environments()[language].get_template(f"documents/{template}").render(context)
