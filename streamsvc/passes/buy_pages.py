"""A season pass's own page, `/season-passes/{pass_id}`, and its order form.

The page shows the pass (passes/offer.py) with e-mail and country fields and a
**Pay** / **Betalen** button. The form posts back to the same path: the order is placed
by passes/buying.py under the same rate limits as ticket orders (orders/routes.py), the
same e-mail check (kit/validation.py `Email`) and the same Idempotency semantics (a
hidden `attempt` key, fresh each time the form is shown, so that pressing Pay twice
buys one pass). The order token goes into the order's HttpOnly cookie (web/cookies.py)
and the buyer continues to `/checkout/{order_id}`, exactly as after buying tickets.
A refusal shows the page again, the words beside the field they concern.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc.errors import NotFound, ServiceError, ValidationFailed
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.kit.validation import Country, Email
from streamsvc.notifications.mail import DEFAULT_LOCALE, SUPPORTED_LOCALES
from streamsvc.orders.routes import _rate_limit as rate_limit_orders
from streamsvc.passes import buying
from streamsvc.passes.offer import PassOffer, pass_offer
from streamsvc.web.cookies import set_order_token
from streamsvc.web.countries import country_choices
from streamsvc.web.csrf import check_csrf
from streamsvc.web.errors import PageErrors, page_errors
from streamsvc.web.forms import read_form
from streamsvc.web.rendering import N_, gettext, language, render

_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_ATTEMPT = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# Why buying was refused, in the buyer's words (buying.buy_pass's codes).
REFUSED = {
    "sold_out": N_("This pass is sold out."),
    "sales_closed": N_("This pass is not on sale now."),
    "amount_too_small": N_("This pass cannot be paid by card. Please ask the venue."),
}


@dataclass
class Entered:
    """What the buyer typed, kept when the page is shown again with errors."""

    email: str = ""
    country: str = ""


class PassPurchase(BaseModel):
    """The form, checked as an order's buyer is (orders/schemas.py OrderCreate)."""

    model_config = ConfigDict(extra="forbid")
    email: Email
    country: Country | None = None


def _pass_id(request: Request) -> str:
    value = request.path_params["pass_id"]
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise NotFound("No such pass.")
    return value


async def _offer(request: Request, pass_id: str) -> PassOffer:
    now = request.app.state.resources.clock.now()
    offer: PassOffer = await in_unit_of_work(
        request, lambda uow: pass_offer(uow.session, pass_id, now)
    )
    return offer


def _show(
    request: Request, offer: PassOffer, *, entered: Entered | None = None,
    errors: PageErrors | None = None, status: int = 200, headers: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    entered = entered or Entered(country=offer.venue_country)
    context: dict[str, Any] = {
        "offer": offer,
        "entered": entered,
        "errors": errors or PageErrors(),
        "countries": country_choices(language(request)),
        # A fresh key per showing of the form: pressing Pay twice buys once.
        "attempt": secrets.token_urlsafe(18),
    }
    return render(request, "season_pass.html", context, status=status, headers=headers)


async def pass_page(request: Request) -> Response:
    return _show(request, await _offer(request, _pass_id(request)))


def _purchase(request: Request, entered: Entered) -> PassPurchase:
    if not entered.email.strip():
        missing = gettext(request, "Enter your e-mail address.")
        raise ValidationFailed(missing, fields={"email": missing})
    try:
        return PassPurchase(email=entered.email.strip(), country=entered.country or None)
    except ValidationError as exc:
        words = {
            "email": gettext(request, "Enter a valid e-mail address."),
            "country": gettext(request, "Choose a country from the list."),
        }
        fields = {str(error["loc"][0]) for error in exc.errors()}
        raise ValidationFailed(
            gettext(request, "Some fields need your attention."),
            fields={name: words.get(name, words["email"]) for name in fields},
        ) from exc


def _refused(request: Request, error: ServiceError) -> PageErrors:
    words = page_errors(request, error)
    if error.code in REFUSED:
        words.message = gettext(request, REFUSED[error.code])
    return words


async def buy(request: Request) -> Response:
    """The form: place the pass's order, hand over its token, go to checkout."""
    pass_id = _pass_id(request)
    form = await read_form(request)
    check_csrf(request, form)
    resources = request.app.state.resources
    email, country, attempt = form.get("email"), form.get("country"), form.get("attempt")
    entered = Entered(
        email=email[:320] if isinstance(email, str) else "",
        country=country[:2] if isinstance(country, str) else "",
    )
    try:
        purchase = _purchase(request, entered)
        await rate_limit_orders(request, purchase.email)
        lang = language(request)
        bought = await run_in_threadpool(
            lambda: buying.buy_pass(
                resources.database, resources.gateway, resources.settings, resources.clock,
                pass_id=pass_id, email=purchase.email, country=purchase.country,
                locale=lang if lang in SUPPORTED_LOCALES else DEFAULT_LOCALE,
                idempotency_key=attempt if isinstance(attempt, str) and _ATTEMPT.match(attempt)
                else None,
            )
        )  # fmt: skip
    except ServiceError as error:
        if error.status == 404:
            raise
        offer = await _offer(request, pass_id)
        return _show(request, offer, entered=entered, errors=_refused(request, error),
                     status=error.status, headers=error.headers)  # fmt: skip
    response = RedirectResponse(f"/checkout/{bought.order_id}", status_code=303)
    set_order_token(request, response, bought.order_id, bought.order_token)
    return response


routes = [
    Route("/season-passes/{pass_id}", pass_page, methods=["GET"], include_in_schema=False),
    Route("/season-passes/{pass_id}", buy, methods=["POST"], include_in_schema=False),
]
