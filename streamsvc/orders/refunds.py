"""Refunds we start: by staff, on event cancellation, or for a payment with no seat.

A refund is first recorded as `requested` (in the caller's transaction), then
submitted to Stripe with the idempotency key `refund:{id}` outside any
transaction, then its Stripe id and status are stored. A crash between the steps
leaves it `requested`; submitting again reuses the same key, so Stripe refunds once.
Partial refunds return money and leave the tickets valid; refunds that cover the
whole payment revoke the order's tickets (see state.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from streamsvc import audit
from streamsvc.db import Database, emit
from streamsvc.errors import Conflict, DependencyUnavailable, NotFound, ValidationFailed
from streamsvc.kit.ids import new_id
from streamsvc.orders.buying import lock_order
from streamsvc.orders.events import RefundRequested
from streamsvc.orders.models import OrderStatus
from streamsvc.orders.state import DISPUTED, recompute
from streamsvc.payments.gateway import PaymentGateway, PaymentProviderUnavailable, PaymentRejected
from streamsvc.payments.models import Refund, RefundStatus

# The origin of refunds of a season pass's order (passes/recognition.py).
PASS_ORIGIN = "pass"  # noqa: S105 (an origin, not a secret)
REFUNDABLE = frozenset({OrderStatus.paid, OrderStatus.partially_refunded, OrderStatus.disputed})
# What Stripe may answer a new refund with that we store as it is; anything else
# (requires_action, or a status Stripe adds) waits as pending for its webhook.
SUBMITTED = frozenset({RefundStatus.pending, RefundStatus.succeeded, RefundStatus.failed})


def request_refund(
    session: Session,
    venue_id: str,
    order_id: str,
    *,
    amount: int | None,
    reason: str,
    origin: str,
    now: datetime,
) -> Refund:
    order = lock_order(session, order_id)
    if order is None or order.venue_id != venue_id:
        raise NotFound("No such order.")
    if order.pass_id is not None and origin != PASS_ORIGIN:
        # What a pass returns depends on its events (passes/recognition.py), which
        # decides the amount and records which events' shares it returns.
        raise Conflict("A season pass is refunded from its pass.", code="pass_order")
    if order.status not in REFUNDABLE or order.payment_intent_id is None:
        raise Conflict(f"An order that is {order.status} cannot be refunded.",
                       code="not_refundable", details={"current_status": order.status})  # fmt: skip
    if order.dispute_status in DISPUTED:
        raise Conflict("A disputed order is settled through the dispute.", code="disputed")
    left = order.paid_amount - order.refunded_amount
    amount = left if amount is None else amount
    if amount <= 0 or amount > left:
        raise ValidationFailed("The amount is more than is left to refund.",
                               fields={"amount": f"at most {left}"})  # fmt: skip
    refund = Refund(
        id=new_id("ref"), order_id=order.id, venue_id=order.venue_id, amount=amount,
        currency=order.currency, origin=origin, reason=reason, status=RefundStatus.requested,
        created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(refund)
    session.flush()
    refunded_before = order.refunded_amount
    recompute(session, order, now)
    audit.record(
        session, venue_id=order.venue_id, action="order.refunded", object_type="order",
        object_id=order.id,
        changes={"refund_id": refund.id, "amount": amount, "currency": order.currency,
                 "origin": origin,
                 "refunded_amount": audit.change(refunded_before, order.refunded_amount)},
    )  # fmt: skip
    emit(session, RefundRequested(refund.id))
    return refund


def submit_refund(
    database: Database, gateway: PaymentGateway, refund_id: str, now: datetime
) -> Refund:
    """Send a requested refund to Stripe (idempotent); returns it as stored afterwards."""
    with database.unit_of_work() as uow:
        refund = uow.session.get(Refund, refund_id)
        if refund is None:
            raise NotFound("No such refund.")
        if refund.status != RefundStatus.requested or refund.stripe_refund_id is not None:
            return refund  # submitted before
        order = lock_order(uow.session, refund.order_id)
        assert order is not None and order.payment_intent_id is not None
        intent_id, amount = order.payment_intent_id, refund.amount
    try:
        sent = gateway.create_refund(
            payment_intent_id=intent_id,
            amount=amount,
            metadata={"refund_id": refund_id, "order_id": refund.order_id},
            idempotency_key=f"refund:{refund_id}",
        )
    except PaymentProviderUnavailable as exc:
        raise DependencyUnavailable("Stripe is unreachable; the refund will be retried.") from exc
    except PaymentRejected as exc:
        with database.unit_of_work() as uow:
            refund = uow.session.exec(
                select(Refund).where(Refund.id == refund_id).with_for_update()
            ).one()
            refund.status = RefundStatus.failed
            refund.reason = f"{refund.reason} (Stripe: {exc})"[:500]
            refund.updated_at = now
            uow.session.add(refund)
            order = lock_order(uow.session, refund.order_id)
            if order is not None:
                recompute(uow.session, order, now)
        return refund
    with database.unit_of_work() as uow:
        refund = uow.session.exec(
            select(Refund).where(Refund.id == refund_id).with_for_update()
        ).one()
        if refund.stripe_refund_id is None:
            refund.stripe_refund_id = sent.id
        if refund.status == RefundStatus.requested:
            sent_status = RefundStatus(sent.status)
            refund.status = sent_status if sent_status in SUBMITTED else RefundStatus.pending
        refund.updated_at = now
        uow.session.add(refund)
        order = lock_order(uow.session, refund.order_id)
        if order is not None:
            recompute(uow.session, order, now)
    return refund


def unsubmitted(session: Session, limit: int = 200) -> list[str]:
    query = select(Refund.id).where(Refund.status == RefundStatus.requested).limit(limit)
    return list(session.exec(query))
