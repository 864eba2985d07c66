"""Order routes: buying (public), reading, refunding and cancelling (staff)."""

from __future__ import annotations

import re
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streamsvc import idempotency
from streamsvc.errors import BadRequest, RateLimited, ValidationFailed
from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.jobs.service import JobPublic
from streamsvc.jobs.service import public as job_public
from streamsvc.kit.pagination import Page
from streamsvc.kit.ratelimit import over_limits
from streamsvc.notifications.mail import choose_locale
from streamsvc.orders import cancellation, placing, refunds, views
from streamsvc.orders.models import Order, TicketStatus
from streamsvc.orders.schemas import (
    OrderCreate,
    OrderCreated,
    OrderListQuery,
    OrderOut,
    OrderSummary,
    PublicOrder,
    PublicOrderHeaders,
    PublicOrderQuery,
    RefundCreate,
    RefundOut,
    TicketPublic,
)
from streamsvc.venues.tenancy import owned

_KEY_SHAPE = re.compile(r"^[\x21-\x7e]{1,255}$")
OrderPage = Page[OrderSummary]


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not _KEY_SHAPE.match(key):
        raise BadRequest("Idempotency-Key must be 1-255 visible ASCII characters.",
                         code="invalid_idempotency_key")  # fmt: skip
    return key


async def _rate_limit(request: Request, email: str) -> None:
    resources = request.app.state.resources
    settings, now = resources.settings, time.time()
    client = request.client.host if request.client else "unknown"
    retry_after = await over_limits(resources.redis, [
        (f"orders:ip:{client}", settings.order_rate_per_ip, 60),
        (f"orders:email:{email.lower()}", settings.order_rate_per_email, 3600),
    ], now)  # fmt: skip
    if retry_after is not None:
        raise RateLimited("Too many orders; try again later.", retry_after=retry_after)


BUYING = """\
Send an `Idempotency-Key` header (1-255 visible ASCII characters) so that a retry \
cannot buy twice: a fresh random UUID (version 4) for every purchase attempt, reused \
only to retry that same attempt (a timeout, a lost connection, a 503). Never derive \
it from the cart, the buyer or a counter.

A key is scoped to the event and to the buyer's e-mail address (compared in lower \
case): the same key with the same e-mail and body answers what the first request \
answered, status and `order_token` included; the same key with the same e-mail and \
another body is a 409 `idempotency_key_reused`. The same key sent with another \
e-mail address is another buyer's key: it places a new order of its own and learns \
nothing of the first. Keys are forgotten after a day.
"""


@endpoint(
    summary="Buy tickets: reserve capacity and create the Stripe PaymentIntent",
    tags=("orders",), access=Access.public, body=OrderCreate, response=OrderCreated,
    status=201, errors=(404, 409, 429, 503), description=BUYING,
)  # fmt: skip
async def create_order(call: Call, body: OrderCreate) -> Response:
    request, resources = call.request, call.request.app.state.resources
    key = idempotency_key(request)
    event_id = call.path("event_id")
    # Before the rate limit too: this answer costs less than counting it in Redis, and a
    # burst of buyers for the last seats is mostly such answers. With a key, a replay
    # may be the answer: place_order reads the key first.
    if key is None:
        placing.refuse_seen_sold_out(resources.sold_out, resources.settings, resources.clock,
                                     event_id=event_id, request=body)  # fmt: skip
    await _rate_limit(request, body.email)
    placed = await run_in_threadpool(
        placing.place_order, resources.database, resources.gateway, resources.settings,
        resources.clock, event_id=event_id, request=body,
        locale=choose_locale(request.headers.get("accept-language")), idempotency_key=key,
        sold_out=resources.sold_out,
    )  # fmt: skip
    # A replay answers what the first request with the key answered, status included.
    return JSONResponse(placed.answer, status_code=placed.status)


@endpoint(
    summary="The buyer's view of an order (with its order_token): status and tickets",
    tags=("orders",), access=Access.public, query=PublicOrderQuery,
    headers=PublicOrderHeaders, response=PublicOrder, errors=(404,),
    description="Send the order_token in the `X-Order-Token` header. The `order_token` "
    "query parameter is still read, for older clients, but a URL is easily logged; "
    "when both are sent the header wins. A wrong token answers 404, as an unknown order.",
)  # fmt: skip
def read_public_order(
    call: Call, query: PublicOrderQuery, headers: PublicOrderHeaders
) -> PublicOrder:
    token = headers.x_order_token or query.order_token
    if token is None:
        raise ValidationFailed("Send the order token in the X-Order-Token header.",
                               fields={"header.X-Order-Token": "required"})  # fmt: skip
    return views.public_order(call.session, call.path("order_id"), token)


@endpoint(summary="The venue's orders", tags=("orders",), access=Access.staff,
          query=OrderListQuery, response=OrderPage)  # fmt: skip
def list_orders(call: Call, query: OrderListQuery) -> OrderPage:
    return views.list_orders(call.session, call.venue_id, query)


@endpoint(summary="An order with its items, refunds and tickets", tags=("orders",),
          access=Access.staff, response=OrderOut, errors=(404,))  # fmt: skip
def get_order(call: Call) -> OrderOut:
    return views.staff_order(call.session, call.venue_id, call.path("order_id"))


@endpoint(
    summary="Refund an order, fully (default) or partly; Idempotency-Key accepted",
    tags=("orders",), access=Access.admin, body=RefundCreate, response=RefundOut, status=202,
    errors=(404, 409),
)  # fmt: skip
def refund_order(call: Call, body: RefundCreate) -> Response:
    key = idempotency_key(call.request)
    order_id, now = call.path("order_id"), call.clock.now()
    scope = f"refunds:{call.venue_id}:{order_id}"
    if key is not None:
        owned(call.session, Order, order_id, call.venue_id)  # 404 before a key is stored
        replay = idempotency.claim(call.session, scope, key,
                                   idempotency.request_hash(body.model_dump()), now)  # fmt: skip
        if replay is not None and replay.status_code is not None:
            return JSONResponse(replay.response, status_code=replay.status_code)
    refund = refunds.request_refund(call.session, call.venue_id, order_id,
                                    amount=body.amount, reason=body.reason, origin="staff",
                                    now=now)  # fmt: skip
    answer = RefundOut.model_validate(refund, from_attributes=True).model_dump(mode="json")
    if key is not None:
        idempotency.complete(call.session, scope, key, 202, answer)
    return JSONResponse(answer, status_code=202)


@endpoint(
    summary="Cancel the event: access ends now; a job revokes tickets and refunds orders",
    tags=("events",), access=Access.admin, response=JobPublic, status=202, errors=(404, 409),
)  # fmt: skip
def cancel_event(call: Call) -> JobPublic:
    job = cancellation.cancel_event(call.session, call.venue_id, call.path("event_id"),
                                    call.clock.now())  # fmt: skip
    return job_public(job)


@endpoint(
    summary="Revoke one ticket, by its id, at once and for good (its sessions are refused)",
    tags=("orders",), access=Access.admin, response=TicketPublic, errors=(404,),
)  # fmt: skip
def revoke_ticket(call: Call) -> TicketPublic:
    ticket = views.revoke_ticket(call.session, call.venue_id, call.path("ticket_id"),
                                 call.clock.now())  # fmt: skip
    return TicketPublic(id=ticket.id, code=ticket.code, tier_id=ticket.tier_id,
                        status=TicketStatus.revoked)  # fmt: skip


routes = [
    Route("/v1/public/events/{event_id}/orders", create_order, methods=["POST"]),
    Route("/v1/public/orders/{order_id}", read_public_order, methods=["GET"]),
    Route("/v1/orders", list_orders, methods=["GET"]),
    Route("/v1/orders/{order_id}", get_order, methods=["GET"]),
    Route("/v1/orders/{order_id}/refunds", refund_order, methods=["POST"]),
    Route("/v1/events/{event_id}/cancel", cancel_event, methods=["POST"]),
    Route("/v1/tickets/{ticket_id}/revoke", revoke_ticket, methods=["POST"]),
]
