"""The event page's order form: `POST /events/{event_id}`.

The page (streamsvc/listings/pages.py) shows each tier with a quantity and, for a
pay-what-you-want tier, an amount; e-mail and country; a hidden `attempt` key, fresh
each time the form is shown, so that pressing Pay twice places one order. This
handler places the order with the same use case as the JSON API
(`placing.place_order`, rate limits included), hands the order token to the browser
in an HttpOnly cookie scoped to the order's pages (web/cookies.py) and answers 303
to `/checkout/{order_id}`, or straight to `/orders/{order_id}` for a free order (its
tickets are issued already, there is nothing to pay). A refused order shows the event
page again with the words beside the fields they concern, what was typed kept, and
the error's status.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc.errors import ServiceError, ValidationFailed, validation_failed
from streamsvc.kit.money import exponent
from streamsvc.listings.pages import (
    Entered,
    TierChoice,
    load_event,
    path_id,
    show_event,
    tier_choices,
)
from streamsvc.listings.schemas import EventListing, TierListing
from streamsvc.notifications.mail import DEFAULT_LOCALE, SUPPORTED_LOCALES
from streamsvc.orders import placing
from streamsvc.orders.routes import _rate_limit as rate_limit_orders
from streamsvc.orders.schemas import OrderCreate
from streamsvc.web.cookies import set_order_token
from streamsvc.web.csrf import check_csrf
from streamsvc.web.errors import PageErrors, page_errors
from streamsvc.web.formatting import decimal_input, money
from streamsvc.web.forms import read_form
from streamsvc.web.rendering import gettext, language

_AMOUNT = re.compile(r"^\s*(\d{1,9})(?:[.,](\d{1,4}))?\s*$")
_ATTEMPT = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_LEFT = re.compile(r"^(\d+) left$")
_AT_LEAST = re.compile(r"^at least (\d+)$")
_FREE_OR_AT_LEAST = re.compile(r"^0 or at least (\d+)$")


def _parse_amount(text: str, currency_places: int) -> int | None:
    """Major units as typed ("12.50", "12,50") -> minor units (1250); None if no amount."""
    match = _AMOUNT.match(text)
    if match is None:
        return None
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > currency_places:
        return None
    minor: int = int(whole) * 10**currency_places + int(fraction.ljust(currency_places, "0") or 0)
    return minor


def _entered(form: FormData, choices: list[TierChoice]) -> Entered:
    entered = Entered(quantities={}, amounts={})
    for choice in choices:
        raw = form.get(choice.quantity_field)
        if isinstance(raw, str) and raw.strip().isdigit():
            entered.quantities[choice.tier.id] = min(int(raw.strip()), 1000)
        amount = form.get(choice.amount_field)
        if isinstance(amount, str):
            entered.amounts[choice.tier.id] = amount[:20]
    email, country = form.get("email"), form.get("country")
    entered.email = email[:320] if isinstance(email, str) else ""
    entered.country = country[:2] if isinstance(country, str) else ""
    return entered


def _order_request(
    request: Request, event: EventListing, choices: list[TierChoice], entered: Entered
) -> tuple[OrderCreate, list[TierChoice]]:
    """The order the form asks for, and the tier of each item; 422 naming form fields."""
    problems: dict[str, str] = {}
    items: list[dict[str, Any]] = []
    chosen: list[TierChoice] = []
    for choice in choices:
        quantity = entered.quantities.get(choice.tier.id, 0)
        if quantity <= 0:
            continue
        # Availability is the service's to judge, not this page's: a replay of a
        # placed order (the same `attempt`) must reach it even once the tier sold out.
        item: dict[str, Any] = {"tier_id": choice.tier.id, "quantity": quantity}
        if choice.tier.pay_what_you_want is not None:
            text = entered.amounts.get(choice.tier.id, "")
            amount = _parse_amount(text, exponent(choice.tier.currency))
            if amount is None:
                problems[choice.amount_field] = gettext(
                    request, "Enter an amount, such as %(example)s.",
                    example=_example_amount(choice.tier),
                )  # fmt: skip
                continue
            item["amount"] = amount
        items.append(item)
        chosen.append(choice)
    if not items and not problems:
        raise ValidationFailed(
            gettext(request, "Choose at least one ticket."),
            fields={"tickets": gettext(request, "Choose at least one ticket.")},
        )
    if not entered.email.strip():
        problems["email"] = gettext(request, "Enter your e-mail address.")
    if problems:
        raise ValidationFailed(gettext(request, "Some fields need your attention."),
                               fields=problems)  # fmt: skip
    body = {"email": entered.email.strip(), "country": entered.country or None, "items": items}
    try:
        return OrderCreate.model_validate(body), chosen
    except ValidationError as exc:
        raise validation_failed(exc.errors()) from exc


def _example_amount(tier: TierListing) -> str:
    pwyw = tier.pay_what_you_want
    return decimal_input(pwyw.suggested_amount if pwyw else tier.price_amount, tier.currency)


def _form_errors(request: Request, error: ServiceError, chosen: list[TierChoice]) -> PageErrors:
    """The service's field paths (`items[0].amount`) as the form's fields, in words."""
    words = page_errors(request, error)
    lang = language(request)
    fields: dict[str, str] = {}
    for path, text in error.fields.items():
        match = re.fullmatch(r"items\[(\d+)\]\.(\w+)", path)
        if match is None or int(match.group(1)) >= len(chosen):
            target = "tickets" if path == "items" else path
            fields[target] = words.fields.get(path, text)
            continue
        choice, part = chosen[int(match.group(1))], match.group(2)
        target = choice.amount_field if part == "amount" else choice.quantity_field
        if part == "amount" and (least := _AT_LEAST.match(text)):
            fields[target] = gettext(
                request, "The amount must be at least %(minimum)s.",
                minimum=money(int(least.group(1)), choice.tier.currency, lang),
            )  # fmt: skip
        elif part == "amount" and (donation := _FREE_OR_AT_LEAST.match(text)):
            fields[target] = gettext(
                request, "Enter 0 for a free ticket, or at least %(minimum)s.",
                minimum=money(int(donation.group(1)), choice.tier.currency, lang),
            )  # fmt: skip
        elif left := _LEFT.match(text):
            count = int(left.group(1))
            fields[target] = (
                gettext(request, "Sold out.")
                if count == 0
                else gettext(request, "Only %(count)s left.", count=count)
            )
        else:
            fields[target] = words.fields.get(path, text)
    if error.code == "amount_too_small" and "items" in error.fields:
        fields["tickets"] = words.message
    return PageErrors(words.message, fields)


async def buy(request: Request) -> Response:
    """The event page's form: place the order, hand over its token, go to checkout."""
    event_id = path_id(request, "event_id")
    form = await read_form(request)
    check_csrf(request, form)
    event = await load_event(request, event_id)
    resources = request.app.state.resources
    choices = tier_choices(event, resources.settings.order_max_quantity)
    entered = _entered(form, choices)
    attempt = form.get("attempt")
    chosen: list[TierChoice] = []
    try:
        order, chosen = _order_request(request, event, choices, entered)
        await rate_limit_orders(request, order.email)
        lang = language(request)
        placed = await run_in_threadpool(
            placing.place_order, resources.database, resources.gateway, resources.settings,
            resources.clock, event_id=event_id, request=order,
            locale=lang if lang in SUPPORTED_LOCALES else DEFAULT_LOCALE,
            idempotency_key=attempt if isinstance(attempt, str) and _ATTEMPT.match(attempt)
            else None,
        )  # fmt: skip
    except ServiceError as error:
        # Shown again as it is now: a refusal (sold out, sales closed) may come from
        # seats the cached page still offered.
        event = await load_event(request, event_id, fresh=True)
        return show_event(request, event, entered=entered,
                           errors=_form_errors(request, error, chosen),
                           status=error.status, headers=error.headers)  # fmt: skip
    if placed.status != 201:
        # A replay of an attempt that failed: what it failed with.
        failed = placed.answer.get("error", {})
        replayed = ServiceError(str(failed.get("message", "")), code=str(failed.get("code", "")),
                                status=placed.status)  # fmt: skip
        errors = _form_errors(request, replayed, chosen)
        return show_event(request, event, entered=entered, errors=errors, status=placed.status)
    order_id = str(placed.answer["id"])
    page = "checkout" if placed.answer.get("status") == "pending" else "orders"  # free: done
    response = RedirectResponse(f"/{page}/{order_id}", status_code=303)
    set_order_token(request, response, order_id, str(placed.answer["order_token"]))
    return response


routes = [
    Route("/events/{event_id}", buy, methods=["POST"], include_in_schema=False),
]
