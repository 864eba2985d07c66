"""Buying a season pass: an order like any other, of a pass instead of an event's tiers.

The same three short units of work as orders/placing.py: (1) reserve one pass on the
product (orders/capacity.py counts it like a tier's seats) and write the pending
order, with `pass_id` set and no event, and its holding (whose code is derived from
its id, passes/codes.py); (2) create the PaymentIntent with the key
`order:{id}:intent`; (3) attach it. From there the order is paid, expired, failed or
refunded by the same webhook, settlement and refund paths as tickets; settlement
raises `PassPaid` instead of issuing tickets, and the holder is mailed the pass's link.
Step (1) also claims the buyer's Idempotency key, as orders/placing.py does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from config.settings import Settings
from streamsvc import idempotency
from streamsvc.db import Database
from streamsvc.errors import (
    Conflict,
    NotFound,
    ServiceError,
    ValidationFailed,
)
from streamsvc.kit.clock import Clock
from streamsvc.kit.ids import new_id
from streamsvc.orders import buying as order_buying
from streamsvc.orders import capacity
from streamsvc.orders.intents import pay_for
from streamsvc.orders.links import order_token_for
from streamsvc.orders.models import CapacityState, Order, OrderStatus
from streamsvc.passes import codes
from streamsvc.passes.models import PassHolding, PassProduct
from streamsvc.passes.products import covered_events
from streamsvc.payments.gateway import PaymentGateway
from streamsvc.payments.minimums import charge_minimum
from streamsvc.venues.models import Venue


@dataclass(frozen=True)
class PassOrder:
    """What the buyer is answered: the order, its holding, and how to pay it."""

    order_id: str
    holding_id: str
    order_token: str  # shown once; the checkout page takes it like any order's
    total_amount: int
    currency: str
    payment_intent_id: str | None
    client_secret: str | None


def on_sale(product: PassProduct, now: datetime) -> bool:
    opens, closes = product.sales_start, product.sales_end
    return (
        product.published and (opens is None or opens <= now) and (closes is None or now < closes)
    )


def idempotency_scope(pass_id: str, email: str) -> str:
    """One buyer's purchases of one pass: the scope of their Idempotency keys, as
    orders/placing.py scopes a buyer's orders of one event (its docstring says why)."""
    buyer = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"passes:{pass_id}:{buyer}"


def _reserve(
    session: Session, settings: Settings, pass_id: str, *, email: str, country: str | None,
    locale: str, now: datetime,
) -> tuple[Order, PassHolding, str]:  # fmt: skip
    product = session.get(PassProduct, pass_id)
    if product is None or not product.published:
        raise NotFound("No such pass.")
    venue = session.get(Venue, product.venue_id)
    if venue is None or venue.suspended_at is not None:  # closed by the platform operator
        raise NotFound("No such pass.")
    if not on_sale(product, now):
        raise Conflict("This pass is not on sale now.", code="sales_closed")
    if not any(event.ends_at > now for _, event in covered_events(session, product.id)):
        raise Conflict("This pass has no events left.", code="sales_closed")
    if product.price_amount < charge_minimum(product.currency):
        # A free pass would need no payment; passes are sold, so refuse it plainly.
        raise ValidationFailed("The pass's price is below what a card payment can carry.",
                               code="amount_too_small")  # fmt: skip
    if product.capacity is not None and product.sold + product.held >= product.capacity:
        raise Conflict("This pass is sold out.", code="sold_out")
    order_id = new_id("ord")
    token = order_token_for(settings, order_id)
    order = Order(
        id=order_id, venue_id=product.venue_id, event_id=None, pass_id=product.id,
        email=email, country=country, locale=locale, status=OrderStatus.pending,
        capacity=CapacityState.held, total_amount=product.price_amount,
        currency=product.currency, token_hash=order_buying.hash_token(token),
        split_rule_version=1,
        expires_at=now + timedelta(minutes=settings.reservation_minutes),
        created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(order)
    session.flush()
    holding_id = new_id("hld")
    holding = PassHolding(
        id=holding_id, pass_id=product.id, venue_id=product.venue_id, order_id=order.id,
        email=email, code_hash=codes.hash_code(codes.code_for(settings, holding_id)),
        created_at=now,
    )  # fmt: skip
    session.add(holding)
    if not capacity.hold_pass(session, product.id):
        raise Conflict("This pass is sold out.", code="sold_out")
    session.flush()
    return order, holding, token


def buy_pass(
    database: Database,
    gateway: PaymentGateway,
    settings: Settings,
    clock: Clock,
    *,
    pass_id: str,
    email: str,
    country: str | None,
    locale: str,
    idempotency_key: str | None = None,
) -> PassOrder:
    """Reserve a pass and create its PaymentIntent; 404, 409 sold_out / sales_closed, 503.

    With `idempotency_key` (the pass page's fresh `attempt`), a repeated request of the
    same buyer answers what the first one did, order token included, and a request that
    died half-way is resumed: the same semantics as orders/placing.py, scoped to the
    pass and the buyer's e-mail (`idempotency_scope`)."""
    email, key = email.strip(), idempotency_key
    scope = idempotency_scope(pass_id, email)
    body_hash = idempotency.request_hash({"pass_id": pass_id, "email": email, "country": country})
    now = clock.now()
    with database.unit_of_work() as uow:
        replay = idempotency.claim(uow.session, scope, key, body_hash, now) if key else None
        if replay is not None and replay.status_code is None and not replay.response:
            raise Conflict("The first request with this key is still running.",
                           code="idempotency_key_in_progress")  # fmt: skip
        if replay is not None:
            draft = replay.response
        else:
            order, holding, token = _reserve(
                uow.session, settings, pass_id, email=email, country=country, locale=locale,
                now=now,
            )  # fmt: skip
            draft = {"order_id": order.id, "holding_id": holding.id, "order_token": token,
                     "total_amount": order.total_amount, "currency": order.currency,
                     "venue_id": order.venue_id}  # fmt: skip
            if key is not None:
                idempotency.attach(uow.session, scope, key, order.id, draft)
    if replay is not None and replay.status_code is not None:
        return _answered(replay.status_code, replay.response)
    answer = pay_for(database, gateway, clock, draft, metadata={"pass_id": pass_id},
                     scope=scope, key=key)  # fmt: skip
    return _answered(201, answer)


def _answered(status: int, answer: dict[str, Any]) -> PassOrder:
    """The answer of a request (or the first one's, replayed): the order, or its error."""
    if status != 201:
        failed = answer.get("error", {})
        raise ServiceError(str(failed.get("message", "")), code=str(failed.get("code", "")),
                           status=status)  # fmt: skip
    return PassOrder(
        order_id=str(answer["order_id"]), holding_id=str(answer["holding_id"]),
        order_token=str(answer["order_token"]), total_amount=int(answer["total_amount"]),
        currency=str(answer["currency"]), payment_intent_id=answer.get("payment_intent_id"),
        client_secret=answer.get("client_secret"),
    )  # fmt: skip
