"""The buyer's pages: `/checkout/{order_id}`, `/orders/{order_id}`, `/tickets/resend`.

Thin, as routes are: they read the order token from its cookie (web/cookies.py), call
the orders' use cases and render. The JSON endpoints their scripts call live under
each page's own path, where the order cookie (Path-scoped to the page) reaches them;
no secret travels in a path or a query. A mail link's `#token=` is handed over once
by POST (`.../token`), which sets the cookie.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from anyio import to_thread
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from config.settings import SIMULATED_PUBLISHABLE_KEY, Settings
from streamsvc.db import UnitOfWork
from streamsvc.errors import NotFound, RateLimited, ServiceError, ValidationFailed
from streamsvc.http.endpoint import in_unit_of_work, read_body
from streamsvc.http.security import STRIPE_API, STRIPE_HOOKS, STRIPE_JS, extend_csp
from streamsvc.kit.context import Actor, actor_var
from streamsvc.kit.validation import Email
from streamsvc.listings import service as listings
from streamsvc.listings.ical import calendar
from streamsvc.orders import checking, checkout, receipt, rescheduling, resend, seats, views
from streamsvc.orders.models import OrderStatus
from streamsvc.orders.receipt_document import buyer_receipt, render_receipt
from streamsvc.payments.gateway import PaymentGateway, SimulatedCardPayments
from streamsvc.web.cookies import order_token, set_order_token
from streamsvc.web.csrf import check_csrf
from streamsvc.web.document_pages import html_document, pdf_document
from streamsvc.web.errors import page_errors
from streamsvc.web.rendering import N_, gettext, language, render

_ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")

# Why a payment failed, in words for the buyer, by Stripe's code.
PAYMENT_ERRORS = {
    "card_declined": N_("Your card was declined. Try another card."),
    "generic_decline": N_("Your card was declined. Try another card."),
    "do_not_honor": N_("Your card was declined. Try another card."),
    "insufficient_funds": N_("The card has insufficient funds. Try another card."),
    "expired_card": N_("The card has expired. Try another card."),
    "incorrect_cvc": N_("The security code is incorrect."),
    "incorrect_number": N_("The card number is incorrect."),
    "processing_error": N_("The card could not be processed. Please try again."),
    "payment_intent_authentication_failure": N_(
        "The payment was not confirmed with your bank. Please try again."
    ),
    "authentication_required": N_(
        "The payment was not confirmed with your bank. Please try again."
    ),
}
PAYMENT_FAILED = N_("The payment did not go through. Please try again.")


def payment_error_words(request: Request, code: str | None) -> str | None:
    if code is None:
        return None
    return gettext(request, PAYMENT_ERRORS.get(code, PAYMENT_FAILED))


def _order_id(request: Request) -> str:
    order_id = request.path_params["order_id"]
    if not isinstance(order_id, str) or not _ORDER_ID.fullmatch(order_id):
        raise NotFound("No such order.")
    return order_id


def _resources(request: Request) -> Any:
    return request.app.state.resources


def _json_error(request: Request, error: ServiceError) -> JSONResponse:
    """A page script's error: the API's shape, in the page's words."""
    words = page_errors(request, error)
    body: dict[str, Any] = {"code": error.code, "message": words.message}
    if words.fields:
        body["fields"] = words.fields
    return JSONResponse({"error": body}, status_code=error.status, headers=error.headers)


# -- the order token: from a mail link's fragment into the cookie, once -------------


class TokenHandOver(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: Annotated[str, StringConstraints(min_length=1, max_length=100)]


async def hand_over_token(request: Request) -> Response:
    """Set the order cookie from the token a mail link carried in its fragment."""
    order_id = _order_id(request)
    try:
        check_csrf(request)
        body = await read_body(request, TokenHandOver)
        await in_unit_of_work(
            request, lambda uow: views.authorised_order(uow.session, order_id, body.token)
        )
    except ServiceError as error:
        return _json_error(request, error)
    response = Response(status_code=204)
    set_order_token(request, response, order_id, body.token)
    return response


# -- /checkout/{order_id} ------------------------------------------------------------


def _payments_context(request: Request, settings: Settings) -> dict[str, Any]:
    """Which Stripe.js the page loads, and the CSP that lets it."""
    if settings.payments_simulated:
        # localstripe serves its stand-in for Stripe.js; the CSP allows its origin in
        # simulated mode (http/security.py).
        parts = urlsplit(settings.stripe_api_base or "")
        origin = f"{parts.scheme}://{parts.netloc}"
        return {"mode": "simulated", "stripe_js": f"{origin}/js.stripe.com/v3/",
                "publishable_key": SIMULATED_PUBLISHABLE_KEY}  # fmt: skip
    extend_csp(request, {"script-src": [STRIPE_JS], "connect-src": [STRIPE_API],
                         "frame-src": [STRIPE_JS, STRIPE_HOOKS]})  # fmt: skip
    return {"mode": "real", "stripe_js": f"{STRIPE_JS}/v3/",
            "publishable_key": settings.stripe_publishable_key or ""}  # fmt: skip


async def checkout_page(request: Request) -> Response:
    order_id = _order_id(request)
    token = order_token(request, order_id)
    if token is None:
        # Perhaps a mail link: checkout.js hands its #token= over, then reloads.
        return render(request, "checkout.html", {"order": None, "order_id": order_id})
    order = await in_unit_of_work(
        request, lambda uow: receipt.buyer_order(uow.session, order_id, token)
    )
    if order.status != OrderStatus.pending:
        return RedirectResponse(f"/orders/{order_id}", status_code=303)
    settings: Settings = _resources(request).settings
    context = {
        "order": order,
        "order_id": order_id,
        "payment": _payments_context(request, settings),
        "payment_error": payment_error_words(request, order.payment_error),
    }
    return render(request, "checkout.html", context)


async def checkout_payment(request: Request) -> Response:
    """What Stripe.js needs (real mode): the PaymentIntent's client secret, for the
    holder of the order cookie only; never cached, never logged."""
    order_id = _order_id(request)
    resources = _resources(request)
    token = order_token(request, order_id)
    try:
        if token is None:
            raise NotFound("No such order.")
        payment = await to_thread.run_sync(
            checkout.payment_for_checkout, resources.database, resources.gateway, order_id, token
        )
    except ServiceError as error:
        return _json_error(request, error)
    return JSONResponse(
        {"status": payment.order_status, "client_secret": payment.client_secret,
         "payment_error": payment_error_words(request, payment.payment_error)},
        headers={"Cache-Control": "no-store"},
    )  # fmt: skip


class CardPayment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    card_token: Annotated[str, StringConstraints(pattern=r"^tok_[A-Za-z0-9_]{1,100}$")]


async def pay_with_card(request: Request) -> Response:
    """Simulated mode only (registered only then): confirm with a localstripe card token."""
    order_id = _order_id(request)
    resources = _resources(request)
    token = order_token(request, order_id)
    gateway: PaymentGateway = resources.gateway
    cards = gateway if isinstance(gateway, SimulatedCardPayments) else None
    try:
        check_csrf(request)
        if token is None:
            raise NotFound("No such order.")
        body = await read_body(request, CardPayment)
        if cards is None:
            raise NotFound("No such resource.")

        def pay() -> checkout.CardAttempt:
            return checkout.pay_with_card_token(
                resources.database, gateway, cards, order_id=order_id, order_token=token,
                card_token=body.card_token, now=resources.clock.now(),
            )  # fmt: skip

        attempt = await to_thread.run_sync(pay)
    except checkout.PaymentDeclined as declined:
        words = payment_error_words(request, declined.code) or ""
        return JSONResponse(
            {"error": {"code": declined.code, "message": words, "fields": {"card": words}}},
            status_code=402,
        )
    except ServiceError as error:
        return _json_error(request, error)
    return JSONResponse({"status": attempt.status, "client_secret": attempt.client_secret},
                        headers={"Cache-Control": "no-store"})  # fmt: skip


# -- /orders/{order_id} --------------------------------------------------------------


async def order_page(request: Request) -> Response:
    order_id = _order_id(request)
    token = order_token(request, order_id)
    if token is None:
        return render(request, "order.html", {"order": None, "order_id": order_id})
    return render(request, "order.html", await _order_context(request, order_id, token))


async def _order_context(request: Request, order_id: str, token: str) -> dict[str, Any]:
    now = _resources(request).clock.now()

    def load(uow: UnitOfWork) -> tuple[receipt.BuyerOrder, set[str]]:
        order = receipt.buyer_order(uow.session, order_id, token, now)
        return order, seats.seat_ticket_ids(uow.session, [t.id for t in order.tickets])

    order, seat_ids = await in_unit_of_work(request, load)
    return {
        "order": order,
        "order_id": order_id,
        "payment_error": payment_error_words(request, order.payment_error),
        # Seat tickets show their code as a QR code for the door (seats.py).
        "seat_qr": {
            t.id: seats.qr_svg(t.code, gettext(request, "QR code of the ticket for the door"))
            for t in order.tickets
            if t.id in seat_ids and t.status == "valid"
        },
        "refund_errors": None,
    }


async def ask_refund(request: Request) -> Response:
    """The buyer asks for the whole order back after the event was rescheduled, within
    the venue's refund period (orders/rescheduling.py); refused after it, in words."""
    order_id = _order_id(request)
    token = order_token(request, order_id)
    if token is None:
        raise NotFound("No such order.")
    form = await _urlencoded_form(request)
    now = _resources(request).clock.now()

    def refund(uow: UnitOfWork) -> None:
        # The order token authorised the buyer: the audit log names the order's buyer.
        actor_var.set(Actor(kind="buyer", id=order_id, label="buyer"))
        rescheduling.refund_on_request(uow.session, order_id, token, now)

    try:
        check_csrf(request, form)
        await in_unit_of_work(request, refund)
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        context = await _order_context(request, order_id, token)
        context["refund_errors"] = page_errors(request, error)
        return render(request, "order.html", context, status=error.status)
    return RedirectResponse(f"/orders/{order_id}#order", status_code=303)


async def _receipt_html(request: Request) -> tuple[str, str]:
    """(file name, HTML) of the order's receipt, for the holder of the order cookie only
    (404 without it, with another order's, or before the order was paid)."""
    order_id = _order_id(request)
    token = order_token(request, order_id)
    if token is None:
        raise NotFound("No such order.")
    found = await in_unit_of_work(request, lambda uow: buyer_receipt(uow.session, order_id, token))
    return f"receipt-{order_id}", render_receipt(found, language(request))


async def receipt_page(request: Request) -> Response:
    _, html = await _receipt_html(request)
    return html_document(request, html)


async def receipt_pdf(request: Request) -> Response:
    name, html = await _receipt_html(request)
    return await pdf_document(html, f"{name}.pdf")


async def order_state(request: Request) -> Response:
    """The order's status for order.js, which polls it while the payment is under way."""
    order_id = _order_id(request)
    token = order_token(request, order_id)
    try:
        if token is None:
            raise NotFound("No such order.")
        order = await in_unit_of_work(
            request, lambda uow: receipt.buyer_order(uow.session, order_id, token)
        )
    except ServiceError as error:
        return _json_error(request, error)
    return JSONResponse(
        {"status": order.status, "tickets": len(order.tickets),
         "payment_error": payment_error_words(request, order.payment_error)},
        headers={"Cache-Control": "no-store"},
    )  # fmt: skip


async def check_payment(request: Request) -> Response:
    """Check with Stripe, which order.js asks for when the webhook is late."""
    order_id = _order_id(request)
    resources = _resources(request)
    token = order_token(request, order_id)
    try:
        check_csrf(request)
        if token is None:
            raise NotFound("No such order.")
        found = await checking.check_with_stripe(
            resources.redis, resources.database, resources.gateway, order_id=order_id,
            order_token=token, now=resources.clock.now(),
            limit_per_minute=resources.settings.payment_check_rate_per_order,
        )  # fmt: skip
    except ServiceError as error:
        return _json_error(request, error)
    return JSONResponse({"status": found.order_status}, headers={"Cache-Control": "no-store"})


async def order_calendar(request: Request) -> Response:
    """The event of the order, as an iCalendar file to add to a calendar."""
    order_id = _order_id(request)
    resources = _resources(request)
    token = order_token(request, order_id)
    if token is None:
        raise NotFound("No such order.")
    now, base = resources.clock.now(), resources.settings.public_url.rstrip("/")

    def read(uow: Any) -> bytes:
        order = views.public_order(uow.session, order_id, token)
        listing = listings.get_event(uow.session, order.event_id, now, base)
        return calendar([listing], now)

    ical = await in_unit_of_work(request, read)
    headers = {"Content-Disposition": 'attachment; filename="event.ics"',
               "Cache-Control": "no-store"}  # fmt: skip
    return Response(ical, media_type="text/calendar; charset=utf-8", headers=headers)


# -- /tickets/resend -----------------------------------------------------------------


async def _urlencoded_form(request: Request) -> FormData:
    """A small url-encoded form (the body size is bounded by the middleware); read
    without python-multipart, which these pages need for nothing else."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return FormData()
    body = (await request.body()).decode("utf-8", errors="replace")
    fields: list[tuple[str, str | UploadFile]] = list(
        parse_qsl(body, keep_blank_values=True, max_num_fields=20)
    )
    return FormData(fields)


class ResendForm(BaseModel):
    email: Email


async def resend_page(request: Request) -> Response:
    if request.method == "GET":
        return render(request, "resend.html", {"errors": None, "sent": False, "email": ""})
    resources = _resources(request)
    form = await _urlencoded_form(request)
    email = form.get("email")
    typed = email if isinstance(email, str) else ""
    try:
        check_csrf(request, form)
        try:
            parsed = ResendForm(email=typed[:300])
        except ValidationError as exc:
            raise ValidationFailed("The e-mail address is not valid.",
                                   fields={"email": "not an e-mail address"}) from exc  # fmt: skip
        client = request.client.host if request.client else "unknown"
        await resend.resend_tickets(
            resources.redis, resources.database, email=parsed.email, client=client,
            now=resources.clock.now(), per_email=resources.settings.resend_rate_per_email,
            per_client=resources.settings.resend_rate_per_ip,
        )  # fmt: skip
    except RateLimited as limited:
        minutes = max(1, -(-int(limited.headers["Retry-After"]) // 60))
        errors = page_errors(request, limited)
        errors.message = gettext(
            request,
            "Too many requests for ticket mails. Please try again in %(minutes)s minutes.",
            minutes=minutes,
        )
        return render(request, "resend.html", {"errors": errors, "sent": False, "email": typed},
                      status=429, headers=limited.headers)  # fmt: skip
    except ServiceError as error:
        errors = page_errors(request, error)
        if error.code == "validation_error":
            errors.fields = {"email": gettext(request, "Please enter an e-mail address.")}
        return render(request, "resend.html", {"errors": errors, "sent": False, "email": typed},
                      status=error.status)  # fmt: skip
    return render(request, "resend.html", {"errors": None, "sent": True, "email": ""})


routes = [
    Route("/checkout/{order_id}", checkout_page, methods=["GET"], include_in_schema=False),
    Route("/checkout/{order_id}/token", hand_over_token, methods=["POST"], include_in_schema=False),
    Route(
        "/checkout/{order_id}/payment", checkout_payment, methods=["GET"], include_in_schema=False
    ),
    Route("/orders/{order_id}", order_page, methods=["GET"], include_in_schema=False),
    Route("/orders/{order_id}/token", hand_over_token, methods=["POST"], include_in_schema=False),
    Route("/orders/{order_id}/state", order_state, methods=["GET"], include_in_schema=False),
    Route("/orders/{order_id}/receipt", receipt_page, methods=["GET"], include_in_schema=False),
    Route("/orders/{order_id}/receipt.pdf", receipt_pdf, methods=["GET"], include_in_schema=False),
    Route("/orders/{order_id}/check", check_payment, methods=["POST"], include_in_schema=False),
    Route("/orders/{order_id}/refund", ask_refund, methods=["POST"], include_in_schema=False),
    Route(
        "/orders/{order_id}/calendar.ics", order_calendar, methods=["GET"], include_in_schema=False
    ),
    Route("/tickets/resend", resend_page, methods=["GET", "POST"], include_in_schema=False),
]
# Only when payments are simulated (settings.payments_simulated): the server confirms
# with a card token from localstripe's Stripe.js stand-in. Never registered otherwise.
simulated_routes = [
    Route("/checkout/{order_id}/card", pay_with_card, methods=["POST"], include_in_schema=False),
]
