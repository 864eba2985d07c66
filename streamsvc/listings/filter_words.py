"""The catalogue page's filter form: what was typed, the filter it makes, and the words
beside each field that is not right (in the page's language)."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import Request

from streamsvc.errors import ValidationFailed
from streamsvc.listings.filters import CatalogueFilter
from streamsvc.web.errors import PageErrors
from streamsvc.web.rendering import N_, gettext

FIELDS = ("venue", "city", "from", "to", "mode")
_WORDS = {
    "venue": N_("choose a venue from the list"),
    "city": N_("at most 100 characters"),
    "from": N_("a date such as 2026-12-14"),
    "to": N_("a date such as 2026-12-14, on or after the first day"),
    "mode": N_("online, or in the venue and online"),
}


def catalogue_filter(request: Request) -> tuple[dict[str, str], CatalogueFilter | None, PageErrors]:
    """(what was typed, by field; the filter, None when a field is not right; the words)."""
    typed = {name: request.query_params.get(name, "")[:120] for name in FIELDS}
    given = {name: value for name, value in typed.items() if value.strip()}
    words = PageErrors()
    try:
        return typed, CatalogueFilter.model_validate(given), words
    except ValidationError as exc:
        wrong = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
    except ValidationFailed as exc:
        wrong = {name.removeprefix("query.") for name in exc.fields}
    words.message = gettext(request, "Some fields need your attention.")
    for name in sorted(wrong & set(FIELDS)):
        words.fields[name] = gettext(request, _WORDS[name])
    return typed, None, words
