"""Check with Stripe: the order page asks Stripe about a pending order whose webhook
is late, and applies what Stripe says exactly as the webhook would.

The effect goes through settlement, whose functions lock the order and record each
fact once: a payment found here issues the tickets (and raises TicketsIssued) once,
and the `payment_intent.succeeded` webhook arriving afterwards changes nothing. The
check is rate-limited per order, since each one is a call to Stripe that any holder
of the order token can cause.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from anyio import to_thread

from streamsvc.db import Database, UnitOfWork
from streamsvc.errors import DependencyUnavailable, RateLimited
from streamsvc.kit.ratelimit import over_limit
from streamsvc.kit.redis_clients import AsyncRedis
from streamsvc.orders import settlement, views
from streamsvc.orders.buying import lock_order
from streamsvc.orders.models import Order, OrderStatus
from streamsvc.payments.gateway import (
    PaymentGateway,
    PaymentIntent,
    PaymentProviderUnavailable,
    PaymentRejected,
)

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60


@dataclass(frozen=True)
class PaymentCheck:
    """What a check found: the order's status afterwards, and Stripe's word on the
    intent (None when the order was not pending, so Stripe was not asked)."""

    order_status: str
    intent_status: str | None


async def check_with_stripe(
    redis: AsyncRedis,
    database: Database,
    gateway: PaymentGateway,
    *,
    order_id: str,
    order_token: str,
    now: datetime,
    limit_per_minute: int,
) -> PaymentCheck:
    """Ask Stripe about a pending order's PaymentIntent and apply its answer.

    404 (views.authorised_order) unless `order_token` is the order's; 429 past
    `limit_per_minute` checks of this order; 503 when Stripe cannot be reached.
    """
    status = await to_thread.run_sync(_authorised_status, database, order_id, order_token)
    if status != OrderStatus.pending:
        return PaymentCheck(status, None)
    retry_after = await over_limit(
        redis, f"orders:check:{order_id}", limit_per_minute, WINDOW_SECONDS, now.timestamp()
    )
    if retry_after is not None:
        raise RateLimited("Checked with Stripe just now; try again shortly.",
                          retry_after=retry_after)  # fmt: skip
    return await to_thread.run_sync(check_pending, database, gateway, order_id, now)


def _authorised_status(database: Database, order_id: str, order_token: str) -> str:
    with database.unit_of_work() as uow:
        return views.authorised_order(uow.session, order_id, order_token).status


def check_pending(
    database: Database, gateway: PaymentGateway, order_id: str, now: datetime
) -> PaymentCheck:
    """Retrieve a pending order's intent (no lock held while Stripe answers), then
    record what it says through settlement, as its webhook would have."""
    with database.unit_of_work() as uow:
        order = uow.session.get(Order, order_id)
        if order is None or order.status != OrderStatus.pending or not order.payment_intent_id:
            return PaymentCheck(str(order.status) if order else "unknown", None)
        intent_id = order.payment_intent_id
    try:
        intent = gateway.retrieve_payment_intent(intent_id)
    except (PaymentProviderUnavailable, PaymentRejected) as exc:
        log.warning("could not check %s of order %s: %s", intent_id, order_id, exc)
        raise DependencyUnavailable("Stripe cannot be asked right now; try again.") from exc
    with database.unit_of_work() as uow:
        order = lock_order(uow.session, order_id)
        assert order is not None  # orders are never deleted
        if order.payment_intent_id == intent.id:
            apply_intent(uow, order, intent, now)
        return PaymentCheck(str(order.status), intent.status)


def apply_intent(uow: UnitOfWork, order: Order, intent: PaymentIntent, now: datetime) -> None:
    """The effect of the intent's state on its (locked) order: the webhook's effect for
    `succeeded`, `payment_failed` (the reason kept) and `canceled`."""
    if intent.status == "succeeded":
        settlement.record_payment(uow, order, intent.amount, now)
    elif intent.status == "canceled":
        status = OrderStatus.expired if order.expires_at <= now else OrderStatus.failed
        settlement.record_payment_failure(uow.session, order, status, now)
    elif intent.last_payment_error is not None:
        settlement.record_failed_attempt(uow.session, order, intent.last_payment_error, now)
