"""Service errors in words, in the page's language, beside the field they concern."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from streamsvc.errors import ServiceError
from streamsvc.web.rendering import N_, gettext, render

# What an error means to a person, by code; the service's English message otherwise.
MESSAGES = {
    "not_found": N_("We could not find this page."),
    "csrf_failed": N_(
        "This form has expired or did not come from this site. Reload the page and try again."
    ),
    "sold_out": N_("Not enough tickets are left."),
    "sales_closed": N_("This is not on sale now."),
    "rate_limited": N_("Too many attempts. Please wait a moment and try again."),
    "validation_error": N_("Some fields need your attention."),
    "country_not_allowed": N_("This event is not offered in that country."),
    "amount_too_small": N_("The total is too small for a card payment."),
    "dependency_unavailable": N_("This is unavailable right now. Please try again shortly."),
    "internal_error": N_("Something went wrong on our side. Please try again."),
    "method_not_allowed": N_("This page cannot do that."),
    "payload_too_large": N_("What you sent is too large."),
}
# Field words of the services that carry no number; the others are matched below.
FIELD_WORDS = {
    "not on sale now": N_("not on sale now"),
    "not a tier of this event": N_("not a ticket type of this event"),
    "this tier is already in the order": N_("this ticket type is already in the order"),
    "only for pay-what-you-want tiers": N_("only for pay-what-you-want tickets"),
    "Field required": N_("Please fill this in."),
}
_LEFT = re.compile(r"^(\d+) left$")
_AT_MOST = re.compile(r"^at most (\d+)$")


@dataclass
class PageErrors:
    """What a page shows of an error: a sentence above the form, words per field."""

    message: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.message or self.fields)


def page_errors(request: Request, error: ServiceError) -> PageErrors:
    """The error in the page language; unknown words stay as the service wrote them."""
    message = MESSAGES.get(error.code)
    words = PageErrors(gettext(request, message) if message else error.message)
    for name, text in error.fields.items():
        words.fields[name] = field_words(request, text)
    return words


def field_words(request: Request, text: str) -> str:
    if text in FIELD_WORDS:
        return gettext(request, FIELD_WORDS[text])
    if match := _LEFT.match(text):
        return gettext(request, "only %(count)s left", count=match.group(1))
    if match := _AT_MOST.match(text):
        return gettext(request, "at most %(count)s", count=match.group(1))
    if text.startswith(("String should", "value is not", "Input should")):
        return gettext(request, "This is not valid.")
    return text


def wants_html(request: Request) -> bool:
    """A person's browser on a page (not the JSON API, not a page's own JSON calls)."""
    if request.url.path.startswith(("/v1/", "/static/")):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept


def error_page(request: Request, error: ServiceError) -> Response | None:
    """`error.html` for a browser, in its language; None for an API client."""
    if not wants_html(request) or not hasattr(request.app.state, "pages"):
        return None
    words = page_errors(request, error)
    response = render(request, "error.html", {"error": words, "status": error.status},
                      status=error.status, headers=error.headers)  # fmt: skip
    return response
