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
    # The families' own codes, for an error whose service gave no code of its own.
    "bad_request": N_("This request could not be understood. Reload the page and try again."),
    "malformed_form": N_("The form could not be read. Reload the page and try again."),
    "malformed_json": N_("The form could not be read. Reload the page and try again."),
    "unsupported_media_type": N_("The form could not be read. Reload the page and try again."),
    "unauthenticated": N_("Please sign in first."),
    "not_signed_in": N_("Please sign in first."),
    "forbidden": N_("Your role at this venue does not allow this."),
    "mfa_enrolment_required": N_("Set up two-factor authentication first."),
    "idempotency_key_reused": N_("This form was already sent with other values. Reload the page."),
    "idempotency_key_in_progress": N_("This is still being done. Wait a moment, then reload."),
    "conflict": N_("This cannot be done now: it may have changed meanwhile. Reload the page."),
    # The catalogue's rules, shown on the console's event pages.
    "invalid_transition": N_("The event cannot change to that status now."),
    "event_incomplete": N_("The event is not complete yet: see what is missing."),
    "event_closed": N_("The event has ended or is cancelled and can no longer be changed."),
    "in_venue_tiers_exist": N_(
        "An online event cannot have tiers with a seat in the venue; remove those first."
    ),
    "price_below_sold": N_("The price of a tier with sales cannot be lowered."),
    "capacity_below_sold": N_("The capacity cannot be lower than the tickets already sold."),
    "components_fixed": N_("The components of a tier with sales cannot change."),
    "included_recording_fixed": N_(
        "The tickets sold include this recording: it stays included, for at least as many days."
    ),
    "not_listable": N_("Only a published event that is not over is listed in UiTdatabank."),
    "reschedule_required": N_(
        "This event has sales: use Reschedule to change its start, so that its buyers are told."
    ),
    "not_reschedulable": N_("Only an event on sale that has not started can be rescheduled."),
    # Orders, refunds and mails (console and the buyer's order page).
    "not_refundable": N_("This order cannot be refunded."),
    "disputed": N_("The payment is disputed with the bank; it is settled through the dispute."),
    "no_tickets_to_mail": N_("This order has no tickets to mail."),
    "order_not_pending": N_("This order no longer waits for payment."),
    "order_expired": N_("The reservation has expired. Please order again."),
    "order_changed": N_("The order changed meanwhile. Reload the page."),
    "refund_period_over": N_("The period to ask for a refund after the new date has ended."),
    "refund_not_offered": N_("This order cannot be refunded on request."),
    "pass_order": N_("This order bought a season pass: it is refunded with the pass, not here."),
    "invalid_card": N_("Check the card details and try again."),
    # Finance and the platform console.
    "already_acknowledged": N_("This finding is acknowledged already."),
    "not_platform_admin": N_("This is for the platform operator's staff."),
    "venue_not_suspended": N_("The venue is not suspended."),
    # A date-range season pass's events (passes/products.py), on the console's pass page.
    "pass_covers_dates": N_(
        "This pass covers every event of the venue between its dates: its events join by "
        "themselves, and stay in it."
    ),
    # Transferring a season pass (passes/transfer.py), on the holder's pass page.
    "not_transferable": N_("This pass cannot be transferred to another person."),
    "pass_not_valid": N_("This pass is no longer valid."),
    "transfer_limit": N_("This pass has been transferred as many times as it may be."),
    "invalid_email": N_("Enter a valid e-mail address."),
    "same_holder": N_("This pass is already held by this address: enter the new holder's."),
    # Buying a recording's offer (recordings/buying.py), on the recording's page.
    "recording_withdrawn": N_("This recording has been withdrawn: it is no longer sold."),
    "recording_sales_closed": N_("On sale soon: for now only free recordings can be watched."),
    "offer_retired": N_("This offer has changed. Choose one of the offers below."),
    "offer_not_found": N_("This offer is not available. Choose one of the offers below."),
    "recording_split_rule_missing": N_(
        "This recording cannot be bought yet. Please ask the venue."
    ),
}
# Field words of the services that carry no number; the others are matched below.
FIELD_WORDS = {
    "not on sale now": N_("not on sale now"),
    "not a tier of this event": N_("not a ticket type of this event"),
    "this tier is already in the order": N_("this ticket type is already in the order"),
    "only for pay-what-you-want tiers": N_("only for pay-what-you-want tickets"),
    "Field required": N_("Please fill this in."),
    "must be in the future": N_("must be in the future"),
    "must be after starts_at": N_("must be after the start"),
    "the event already starts then": N_("the event already starts then"),
    "between 1 and 90 days": N_("between 1 and 90 days"),
    "reschedule the event to change its start": N_("reschedule the event to change its start"),
    # Said by more than one service (catalogue, recordings, staff, orders).
    "cannot be null": N_("Please fill this in."),
    "duplicates": N_("listed more than once"),
    "not an e-mail address": N_("not an e-mail address"),
    "not a usable card": N_("Check the card details and try again."),
    "confirm again": N_("confirm the refund again"),
    "a date, YYYY-MM-DD": N_("a date such as 2026-12-14"),
    "must not be after to": N_("must not be after the last day"),
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
