"""The `/me` pages' errors in the page's words (web/errors.py does the rest)."""

from __future__ import annotations

from starlette.requests import Request

from streamsvc.errors import ServiceError
from streamsvc.web.errors import PageErrors, page_errors
from streamsvc.web.rendering import N_, gettext

MESSAGES = {
    "link_invalid": N_("This link is unknown, used or expired. Ask for a new one."),
    "validation_error": N_("Some fields need your attention."),
}
FIELD_WORDS = {
    "unknown, used or expired": N_("unknown, used or expired"),
    "enter an e-mail address": N_("enter an e-mail address"),
    # The payouts module's words for payout details (streamsvc/payouts/details.py).
    "enter the account holder's name": N_("enter the account holder's name"),
    "not a valid IBAN": N_("not a valid IBAN"),
    "not a valid BIC": N_("not a valid BIC"),
    "does not belong to the IBAN's bank": N_("does not belong to the IBAN's bank"),
}


def errors_of(request: Request, error: ServiceError | None) -> PageErrors:
    if error is None:
        return PageErrors()
    words = page_errors(request, error)
    if error.code in MESSAGES:
        words.message = gettext(request, MESSAGES[error.code])
    for name, text in error.fields.items():
        if text in FIELD_WORDS:
            words.fields[name] = gettext(request, FIELD_WORDS[text])
    return words
