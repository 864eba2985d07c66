"""Languages of the pages: negotiation and the gettext catalogs, compiled at startup.

The catalogs are `locale/{nl,en,fr}/LC_MESSAGES/messages.po`, read and compiled in
memory when the app is built (no .mo files, no build step). `make i18n` extracts the
msgids of templates and Python (babel.cfg) into them; translators fill them in by hand.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES: Final = ("nl", "en", "fr")
DEFAULT_LANGUAGE: Final = "en"
# The language switch's labels: each language in its own words.
LANGUAGE_NAMES: Final = {"nl": "Nederlands", "en": "English", "fr": "Français"}
LANGUAGE_COOKIE: Final = "lang"
LOCALE_DIR: Final = Path(__file__).parent / "locale"

# Bounds on what we read of a client's header; browsers send a handful of entries.
_MAX_HEADER_CHARS = 1024
_MAX_ENTRIES = 32
_RANGE = re.compile(r"^(?:\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)$")
_QVALUE = re.compile(r"^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$")


def negotiate(
    accept_language: str | None,
    supported: tuple[str, ...] = LANGUAGES,
    default: str = DEFAULT_LANGUAGE,
) -> str:
    """The best supported language for an Accept-Language header (RFC 9110).

    A language counts by its primary subtag (`nl-BE` is Dutch) with the highest q given
    for it; `*` stands for every language not named; equal q-values go to the one named
    first. Malformed entries are skipped; this never raises.
    """
    if not accept_language:
        return default
    best, best_rank = default, (0.0, 0)
    wildcard: float | None = None
    ranks: dict[str, tuple[float, int]] = {}
    entries = accept_language[:_MAX_HEADER_CHARS].split(",")[:_MAX_ENTRIES]
    for position, entry in enumerate(entries):
        language_range, *params = (part.strip() for part in entry.split(";"))
        q = _q_value(params)
        if q is None or not _RANGE.match(language_range):
            continue
        if language_range == "*":
            wildcard = max(q, wildcard or 0.0)
            continue
        primary = language_range.split("-", 1)[0].lower()
        if primary not in ranks or q > ranks[primary][0]:
            ranks[primary] = (q, -position)
    # The default first: it wins the ties it is part of (`*` alone means "anything").
    for language in sorted(supported, key=lambda lang: lang != default):
        rank = ranks.get(language) or ((wildcard, -_MAX_ENTRIES) if wildcard else (0.0, 0))
        if rank[0] > 0 and rank > best_rank:
            best, best_rank = language, rank
    return best


def _q_value(params: list[str]) -> float | None:
    for param in params:
        name, sep, value = param.partition("=")
        if name.strip().lower() == "q":
            value = value.strip()
            return float(value) if sep and _QVALUE.match(value) else None
    return 1.0


def load_catalogs(locale_dir: Path = LOCALE_DIR) -> dict[str, Translations]:
    """Every language's catalog, compiled in memory; an absent catalog translates nothing."""
    catalogs: dict[str, Translations] = {}
    for language in LANGUAGES:
        po = locale_dir / language / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            catalogs[language] = Translations()
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=language)
        compiled = io.BytesIO()
        # Fuzzy entries are guesses of msgmerge: better English than a wrong sentence.
        write_mo(compiled, catalog, use_fuzzy=False)
        compiled.seek(0)
        catalogs[language] = Translations(compiled)
    return catalogs
