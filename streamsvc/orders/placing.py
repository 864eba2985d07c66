"""Placing an order: the buy use case, the same for the JSON API and the pages.

Three short units of work around one Stripe call, so that no row lock is held while
Stripe answers:

1. claim the idempotency key (a replay answers what the first request answered),
   reserve capacity and write the pending order;
2. create the PaymentIntent, with the deterministic key `order:{id}:intent`; should
   Stripe be unreachable, give the capacity back and remember the 503 for the key;
3. attach the intent to the order and remember the 201 for the key.

A request that dies between steps is resumed by its retry with the same key: the
claim finds the draft of step 1, and Stripe's idempotency returns the same intent.

A free order (total 0) stops after step 1: its tickets are issued in that same unit of
work (fulfilment.issue_free), Stripe is never called, and the 201 is remembered at once.

A replay hands out the order token, so a key is scoped to the requester, not only to
the event: buying is public (no API key names the client), and what one buyer alone
sends is the key and their e-mail address. The scope is therefore the event and a
hash of the normalised e-mail: a replay needs the same key *and* the same e-mail,
and the same key under another e-mail is another buyer's key, placing a new order
that learns nothing of the first (not even that the key was used).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from config.settings import Settings
from streamsvc import idempotency
from streamsvc.db import Database, UnitOfWork
from streamsvc.errors import Conflict, DependencyUnavailable
from streamsvc.kit.clock import Clock
from streamsvc.orders import buying, fulfilment
from streamsvc.orders.models import Order, OrderStatus
from streamsvc.orders.schemas import OrderCreate, OrderCreated, PaymentInfo
from streamsvc.orders.sold_out import SoldOutMemory
from streamsvc.payments.gateway import (
    PaymentGateway,
    PaymentIntent,
    PaymentProviderUnavailable,
)


@dataclass(frozen=True)
class Placed:
    """The answer to the buyer: 201 with the order and its payment, or, replayed for an
    idempotency key, whatever the first request with that key answered."""

    status: int
    answer: dict[str, Any]


def idempotency_scope(event_id: str, email: str) -> str:
    """The idempotency scope of one buyer's orders for one event (module docstring).

    128 bits of the e-mail's SHA-256 keep it within idempotency.SCOPE_LENGTH, and
    unambiguous (an event id has no `:`)."""
    buyer = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"orders:{event_id}:{buyer}"


def refuse_seen_sold_out(
    sold_out: SoldOutMemory, settings: Settings, clock: Clock, *, event_id: str,
    request: OrderCreate,
) -> None:  # fmt: skip
    """For a request without an idempotency key, on the event loop before it waits for a
    thread: raise the SoldOut this process saw a moment ago for these tiers, if it did.
    In a burst the threads are taken by the buyers who get seats (Stripe's answer); the
    ones who get none need no thread to hear it."""
    refusal = sold_out.refusal(event_id, request, clock.now(), settings.order_max_quantity)
    if refusal is not None:
        raise refusal


def _refuse_seen_sold_out(
    database: Database, sold_out: SoldOutMemory, *, max_quantity: int, event_id: str,
    request: OrderCreate, now: datetime, key: str | None, scope: str,
) -> None:  # fmt: skip
    """Raise the SoldOut this process saw a moment ago for these tiers, if it did, and
    unless the request's idempotency key was used (its replay is the answer)."""
    refusal = sold_out.refusal(event_id, request, now, max_quantity)
    if refusal is None:
        return
    if key is not None:
        with database.unit_of_work() as uow:  # one read, by primary key
            if uow.session.get(idempotency.IdempotencyRecord, (scope, key)) is not None:
                return
    raise refusal


def _unavailable() -> DependencyUnavailable:
    return DependencyUnavailable("Payments are unavailable right now; try again.")


def place_order(
    database: Database,
    gateway: PaymentGateway,
    settings: Settings,
    clock: Clock,
    *,
    event_id: str,
    request: OrderCreate,
    locale: str,
    idempotency_key: str | None,
    sold_out: SoldOutMemory | None = None,
) -> Placed:
    """Reserve, create the PaymentIntent, attach it (module docstring).

    `sold_out`: the process's memory of tiers seen sold out (orders/sold_out.py), which
    refuses an order for them before any transaction, unless its idempotency key was
    used before (a replay answers what the first request answered)."""
    key, scope = idempotency_key, idempotency_scope(event_id, request.email)
    now = clock.now()
    if sold_out is not None:
        _refuse_seen_sold_out(
            database, sold_out, max_quantity=settings.order_max_quantity, event_id=event_id,
            request=request, now=now, key=key, scope=scope,
        )  # fmt: skip
    body_hash = idempotency.request_hash(request.model_dump(mode="json"))

    def reserve(uow: UnitOfWork) -> tuple[idempotency.Replay | None, dict[str, Any], str]:
        if key is not None:
            replay = idempotency.claim(uow.session, scope, key, body_hash, now)
            if replay is not None:
                if replay.status_code is None and not replay.response:
                    raise Conflict("The first request with this key is still running.",
                                   code="idempotency_key_in_progress")  # fmt: skip
                order = uow.session.get(Order, replay.response.get("id", ""))
                return replay, replay.response, order.venue_id if order is not None else ""
        reservation = buying.reserve(
            uow.session, event_id, request, locale=locale, now=now, settings=settings
        )
        order = reservation.order
        fulfilment.issue_free(uow, order, now)  # only when there is nothing to pay
        draft = OrderCreated(
            id=order.id, status=order.status, total_amount=order.total_amount,
            currency=order.currency, expires_at=order.expires_at,
            order_token=reservation.order_token, payment=None,
        ).model_dump(mode="json")  # fmt: skip
        if key is not None:
            # Enough to resume, should this request die before it answers.
            idempotency.attach(uow.session, scope, key, order.id, draft)
            if order.status != OrderStatus.pending:  # free: this is the whole answer
                idempotency.complete(uow.session, scope, key, 201, draft)
        return None, draft, order.venue_id

    try:
        with database.unit_of_work() as uow:
            replay, draft, venue_id = reserve(uow)
    except buying.SoldOut as refusal:
        if sold_out is not None:
            sold_out.remember(event_id, refusal, now)
        raise
    if replay is not None and replay.status_code is not None:
        return Placed(replay.status_code, replay.response)
    if draft["status"] != OrderStatus.pending:
        return Placed(201, draft)  # a free order, settled without Stripe
    order_id = draft["id"]
    try:
        intent = gateway.create_payment_intent(
            amount=draft["total_amount"],
            currency=draft["currency"],
            metadata={"order_id": order_id, "event_id": event_id, "venue_id": venue_id},
            idempotency_key=f"order:{order_id}:intent",
        )
    except PaymentProviderUnavailable as exc:
        with database.unit_of_work() as uow:
            order = buying.lock_order(uow.session, order_id)
            if order is not None and order.payment_intent_id is None:
                buying.release_hold(uow.session, order, OrderStatus.failed, clock.now())
            if key is not None:
                idempotency.complete(uow.session, scope, key, 503, _unavailable().body())
        if sold_out is not None:  # the seats just given back are for sale again here
            sold_out.forget(event_id, [item.tier_id for item in request.items])
        raise _unavailable() from exc

    return Placed(201, _attach(database, draft, intent, key, scope))


def _attach(
    database: Database, draft: dict[str, Any], intent: PaymentIntent, key: str | None,
    scope: str,
) -> dict[str, Any]:  # fmt: skip
    """Step 3: the intent attached to the order, the answer remembered for the key."""
    order_id = str(draft["id"])
    # One statement committed as it runs: one round trip on every purchase's path.
    if not database.execute_at_once(buying.intent_attachment(order_id, intent.id)):
        with database.unit_of_work() as uow:  # attached before (a retry), or gone (404)
            buying.attach_intent(uow.session, order_id, intent.id)
    payment = PaymentInfo(payment_intent_id=intent.id, client_secret=intent.client_secret)
    answer = {**draft, "payment": payment.model_dump(mode="json")}
    if key is not None:
        with database.unit_of_work() as uow:
            # Should a crash of PostgreSQL lose it, the retry with the key finds the
            # draft of step 1 and resumes it (Stripe's idempotency: the same intent).
            uow.commit_without_waiting_for_disk()
            idempotency.complete(uow.session, scope, key, 201, answer)
    return answer
