"""Order routes: buying (public), reading, refunding and cancelling (staff)."""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streamsvc import idempotency
from streamsvc.db import UnitOfWork
from streamsvc.errors import BadRequest, Conflict, DependencyUnavailable, RateLimited
from streamsvc.http.endpoint import Access, Call, endpoint, in_unit_of_work, read_body
from streamsvc.http.openapi import operation
from streamsvc.jobs.service import JobPublic
from streamsvc.jobs.service import public as job_public
from streamsvc.kit.pagination import Page
from streamsvc.kit.ratelimit import over_limit
from streamsvc.notifications.mail import choose_locale
from streamsvc.orders import buying, cancellation, refunds, views
from streamsvc.orders.models import Order, OrderStatus, TicketStatus
from streamsvc.orders.schemas import (
    OrderCreate,
    OrderCreated,
    OrderListQuery,
    OrderOut,
    OrderSummary,
    PaymentInfo,
    PublicOrder,
    PublicOrderQuery,
    RefundCreate,
    RefundOut,
    TicketPublic,
)
from streamsvc.payments.gateway import PaymentProviderUnavailable

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
    for name, limit, window in (
        (f"orders:ip:{client}", settings.order_rate_per_ip, 60),
        (f"orders:email:{email.lower()}", settings.order_rate_per_email, 3600),
    ):
        retry_after = await over_limit(resources.redis, name, limit, window, now)
        if retry_after is not None:
            raise RateLimited("Too many orders; try again later.", retry_after=retry_after)


@operation(
    summary="Buy tickets: reserve capacity and create the Stripe PaymentIntent",
    tags=("orders",), body=OrderCreate, responses={201: OrderCreated},
    errors=(400, 404, 409, 413, 415, 422, 429, 503),
)  # fmt: skip
async def create_order(request: Request) -> Response:
    resources = request.app.state.resources
    event_id = request.path_params["event_id"]
    key = idempotency_key(request)
    body = await read_body(request, OrderCreate)
    await _rate_limit(request, body.email)
    scope = f"orders:{event_id}"
    body_hash = idempotency.request_hash(body.model_dump(mode="json"))
    locale = choose_locale(request.headers.get("accept-language"))
    now = resources.clock.now()

    def reserve(uow: UnitOfWork) -> dict[str, Any]:
        if key is not None:
            replay = idempotency.claim(uow.session, scope, key, body_hash, now)
            if replay is not None:
                if replay.status_code is None and not replay.response:
                    raise Conflict("The first request with this key is still running.",
                                   code="idempotency_key_in_progress")  # fmt: skip
                return {"replay": replay}
        reservation = buying.reserve(
            uow.session, event_id, body, locale=locale, now=now, settings=resources.settings
        )
        order = reservation.order
        draft = OrderCreated(
            id=order.id, status=OrderStatus.pending, total_amount=order.total_amount,
            currency=order.currency, expires_at=order.expires_at,
            order_token=reservation.order_token, payment=None,
        ).model_dump(mode="json")  # fmt: skip
        if key is not None:
            # Enough to resume, should this request die before it answers.
            idempotency.attach(uow.session, scope, key, order.id, draft)
        return {"draft": draft, "venue_id": order.venue_id}

    step = await in_unit_of_work(request, reserve)
    replay = step.get("replay")
    if replay is not None and replay.status_code is not None:
        return JSONResponse(replay.response, status_code=replay.status_code)
    draft: dict[str, Any] = replay.response if replay is not None else step["draft"]
    order_id = draft["id"]
    venue_id = step.get("venue_id") or await _venue_of(request, order_id)
    try:
        intent = await run_in_threadpool(
            resources.gateway.create_payment_intent,
            amount=draft["total_amount"],
            currency=draft["currency"],
            metadata={"order_id": order_id, "event_id": event_id, "venue_id": venue_id},
            idempotency_key=f"order:{order_id}:intent",
        )  # fmt: skip
    except PaymentProviderUnavailable as exc:

        def give_back(uow: UnitOfWork) -> None:
            order = buying.lock_order(uow.session, order_id)
            if order is not None and order.payment_intent_id is None:
                buying.release_hold(uow.session, order, OrderStatus.failed, resources.clock.now())
            if key is not None:
                idempotency.complete(uow.session, scope, key, 503, _unavailable_body())

        await in_unit_of_work(request, give_back)
        raise DependencyUnavailable("Payments are unavailable right now; try again.") from exc

    def attach(uow: UnitOfWork) -> dict[str, Any]:
        buying.attach_intent(uow.session, order_id, intent.id)
        answer = {**draft, "payment": PaymentInfo(
            payment_intent_id=intent.id, client_secret=intent.client_secret
        ).model_dump(mode="json")}  # fmt: skip
        if key is not None:
            idempotency.complete(uow.session, scope, key, 201, answer)
        return answer

    return JSONResponse(await in_unit_of_work(request, attach), status_code=201)


def _unavailable_body() -> dict[str, Any]:
    return DependencyUnavailable("Payments are unavailable right now; try again.").body()


async def _venue_of(request: Request, order_id: str) -> str:
    def read(uow: UnitOfWork) -> str:
        order = uow.session.get(Order, order_id)
        return order.venue_id if order is not None else ""

    return await in_unit_of_work(request, read)


@endpoint(
    summary="The buyer's view of an order (with its order_token): status and tickets",
    tags=("orders",), access=Access.public, query=PublicOrderQuery, response=PublicOrder,
    errors=(404,),
)  # fmt: skip
def read_public_order(call: Call, query: PublicOrderQuery) -> PublicOrder:
    return views.public_order(call.session, call.path("order_id"), query.order_token)


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
    scope = f"refunds:{call.venue_id}:{call.path('order_id')}"
    now = call.clock.now()
    if key is not None:
        replay = idempotency.claim(call.session, scope, key,
                                   idempotency.request_hash(body.model_dump()), now)  # fmt: skip
        if replay is not None and replay.status_code is not None:
            return JSONResponse(replay.response, status_code=replay.status_code)
    refund = refunds.request_refund(call.session, call.venue_id, call.path("order_id"),
                                    amount=body.amount, reason=body.reason, origin="staff",
                                    now=now)  # fmt: skip
    answer = RefundOut.model_validate(refund, from_attributes=True).model_dump(mode="json")
    if key is not None:
        idempotency.complete(call.session, scope, key, 202, answer)
    queue, refund_id = call.request.app.state.resources.queue, refund.id
    call.uow.after_commit(lambda: queue.enqueue("payments.submit_refund", refund_id))
    return JSONResponse(answer, status_code=202)


@endpoint(
    summary="Cancel the event: access ends now; a job revokes tickets and refunds orders",
    tags=("events",), access=Access.admin, response=JobPublic, status=202, errors=(404, 409),
)  # fmt: skip
def cancel_event(call: Call) -> JobPublic:
    job = cancellation.cancel_event(call.session, call.venue_id, call.path("event_id"),
                                    call.clock.now())  # fmt: skip
    queue, job_id = call.request.app.state.resources.queue, job.id
    call.uow.after_commit(lambda: queue.enqueue("orders.run_cancellation", job_id))
    return job_public(job)


@endpoint(
    summary="Revoke one ticket at once, for good (its sessions are refused)",
    tags=("orders",), access=Access.admin, response=TicketPublic, errors=(404,),
)  # fmt: skip
def revoke_ticket(call: Call) -> TicketPublic:
    ticket = views.revoke_ticket(call.session, call.venue_id, call.path("ticket_id"),
                                 call.clock.now())  # fmt: skip
    return TicketPublic(code=ticket.code, tier_id=ticket.tier_id, status=TicketStatus.revoked)


routes = [
    Route("/v1/public/events/{event_id}/orders", create_order, methods=["POST"]),
    Route("/v1/public/orders/{order_id}", read_public_order, methods=["GET"]),
    Route("/v1/orders", list_orders, methods=["GET"]),
    Route("/v1/orders/{order_id}", get_order, methods=["GET"]),
    Route("/v1/orders/{order_id}/refunds", refund_order, methods=["POST"]),
    Route("/v1/events/{event_id}/cancel", cancel_event, methods=["POST"]),
    Route("/v1/tickets/{ticket_id}/revoke", revoke_ticket, methods=["POST"]),
]
