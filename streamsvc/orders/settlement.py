"""Recording what happened to an order's money: paid, failed, refunded, disputed.

Every function here is idempotent and order-independent: it locks the order,
records its fact once (keyed by Stripe's ids), then `state.recompute` derives the
status. Callers pass a UnitOfWork so that follow-ups (mail, refund submission)
run only after the commit.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.catalog.models import Event
from streamsvc.db import UnitOfWork
from streamsvc.kit.ids import new_id, random_token
from streamsvc.orders import capacity, recording_orders
from streamsvc.orders.buying import items_of, lock_order, release_hold
from streamsvc.orders.events import (
    PassPaid,
    RecordingAccessIssued,
    RefundRequested,
    TicketsIssued,
)
from streamsvc.orders.models import CapacityState, Order, OrderStatus, Ticket, TicketStatus
from streamsvc.orders.state import FINAL_DISPUTE, FINAL_REFUND, recompute
from streamsvc.payments.models import Dispute, DisputeStatus, Refund, RefundStatus

log = logging.getLogger(__name__)


def find_order(session: Session, payment_intent_id: str | None, metadata: Any) -> Order | None:
    """The order a Stripe object belongs to: by PaymentIntent id, else our metadata."""
    order_id = metadata.get("order_id") if isinstance(metadata, dict) else None
    if payment_intent_id:
        found = session.exec(
            select(Order).where(Order.payment_intent_id == payment_intent_id).with_for_update()
        ).first()
        if found is not None:
            return found
    return lock_order(session, order_id) if isinstance(order_id, str) else None


def record_payment(uow: UnitOfWork, order: Order, amount: int, now: datetime) -> None:
    """The buyer paid `amount`. Issue tickets once, or refund a payment with no seat left."""
    session = uow.session
    if order.paid_amount > 0:
        return  # recorded before: exactly once
    order.paid_amount = amount
    order.paid_at = now
    items = items_of(session, order.id)
    if order.pass_id is not None:
        _record_pass_payment(uow, order, amount, now)
        return
    if order.recording_id is not None:
        _record_recording_payment(uow, order, now)
        return
    event_id = order.event_id
    assert event_id is not None  # every order but a pass's is of one event
    event = session.get(Event, event_id)
    if event is not None and event.status == EventStatus.cancelled:
        # Paid after the event was cancelled: the money goes straight back.
        release_hold(session, order, order.status, now)
        _refund_all(uow, order, "event_cancelled", "the event was cancelled", now=now)
        return
    if order.capacity == CapacityState.held:
        for item in sorted(items, key=lambda i: i.tier_id):
            capacity.convert_hold(session, item.tier_id, item.quantity)
        order.capacity = CapacityState.sold
    elif order.capacity == CapacityState.released:
        # The hold lapsed (expiry, failure) before the money came: take the seats
        # again if they are still there, all or nothing.
        savepoint = session.begin_nested()
        if all(capacity.take(session, i.tier_id, i.quantity)
               for i in sorted(items, key=lambda i: i.tier_id)):  # fmt: skip
            savepoint.commit()
            order.capacity = CapacityState.sold
        else:
            savepoint.rollback()
            order = lock_order(session, order.id) or order
            order.paid_amount, order.paid_at = amount, now
            reason = "paid after the reservation expired and the tier sold out"
            _refund_all(uow, order, "sold_out_after_expiry", reason, now=now)
            log.warning("order %s paid after its seats were sold; refunding", order.id)
            return
    for item in items:
        for serial in range(item.quantity):
            session.add(
                Ticket(
                    id=new_id("tkt"), code=_ticket_code(), order_id=order.id,
                    order_item_id=item.id, serial=serial, tier_id=item.tier_id,
                    event_id=event_id, venue_id=order.venue_id, status=TicketStatus.valid,
                    created_at=now, updated_at=now,
                )
            )  # fmt: skip
    session.flush()
    recompute(session, order, now)
    uow.emit(TicketsIssued(order.id))


def _record_pass_payment(uow: UnitOfWork, order: Order, amount: int, now: datetime) -> None:
    """A season pass is paid: its pass goes from held to sold (or is taken again after
    its hold lapsed, else the money goes back); `PassPaid` hands it to its holder."""
    session = uow.session
    assert order.pass_id is not None
    if order.capacity == CapacityState.held:
        capacity.convert_pass_hold(session, order.pass_id)
        order.capacity = CapacityState.sold
    elif order.capacity == CapacityState.released:
        if not capacity.take_pass(session, order.pass_id):
            reason = "paid after the reservation expired and the passes sold out"
            _refund_all(uow, order, "sold_out_after_expiry", reason, now=now)
            return
        order.capacity = CapacityState.sold
    recompute(session, order, now)
    uow.emit(PassPaid(order.id))


def _record_recording_payment(uow: UnitOfWork, order: Order, now: datetime) -> None:
    """A recording's order is paid (or settled free): its access is issued once, and
    `RecordingAccessIssued` mails it. A recording has no capacity: nothing is counted."""
    order.capacity = CapacityState.sold
    issued = recording_orders.issue_access(uow.session, order, _ticket_code(), now)
    recompute(uow.session, order, now)
    if issued is not None:
        uow.emit(RecordingAccessIssued(order.id))


def _refund_all(uow: UnitOfWork, order: Order, origin: str, reason: str, *, now: datetime) -> None:
    refund = Refund(
        id=new_id("ref"), order_id=order.id, venue_id=order.venue_id, amount=order.paid_amount,
        currency=order.currency, origin=origin, reason=reason, status=RefundStatus.requested,
        created_at=now, updated_at=now,
    )  # fmt: skip
    uow.session.add(refund)
    uow.session.flush()
    recompute(uow.session, order, now)
    uow.emit(RefundRequested(refund.id))


def _ticket_code() -> str:
    # 25 base32 characters (125 bits): not guessable, still readable aloud.
    raw = random_token(25)
    return "-".join(raw[i : i + 5] for i in range(0, 25, 5))


def new_ticket_code() -> str:
    """A fresh code made as an issued ticket's is (for a ticket that changes hands:
    passes/transfer.py gives a transferred pass's tickets new ones)."""
    return _ticket_code()


def record_failed_attempt(session: Session, order: Order, reason: str, now: datetime) -> None:
    """An attempt to pay failed (declined, not authenticated): the order stays pending
    with its seats held, and remembers why for the checkout page."""
    if order.paid_amount > 0 or order.status != OrderStatus.pending:
        return  # paid meanwhile (a stale event), or already settled
    order.payment_error = reason[:64]
    order.updated_at = now
    session.add(order)


def record_payment_failure(
    session: Session, order: Order, status: OrderStatus, now: datetime
) -> None:
    """The payment failed or was cancelled: a pending order gives its capacity back."""
    if order.paid_amount > 0 or order.status != OrderStatus.pending:
        return  # paid meanwhile (a stale event), or already settled
    release_hold(session, order, status, now)


def record_refund(
    session: Session, refund_obj: dict[str, Any], created: int, now: datetime
) -> None:
    """A refund as Stripe reports it (ours or one made in the dashboard)."""
    order = find_order(session, refund_obj.get("payment_intent"), refund_obj.get("metadata"))
    if order is None:
        log.info("refund %s belongs to no order of ours", refund_obj.get("id"))
        return
    refund = session.exec(
        select(Refund).where(Refund.stripe_refund_id == refund_obj["id"]).with_for_update()
    ).first()
    ours = (refund_obj.get("metadata") or {}).get("refund_id")
    if refund is None and isinstance(ours, str):
        refund = session.exec(select(Refund).where(Refund.id == ours).with_for_update()).first()
    if refund is None:
        refund = Refund(
            id=new_id("ref"), order_id=order.id, venue_id=order.venue_id,
            amount=int(refund_obj["amount"]), currency=order.currency, origin="stripe",
            reason=str(refund_obj.get("reason") or ""), status=RefundStatus.pending,
            created_at=now, updated_at=now,
        )  # fmt: skip
    incoming = RefundStatus(str(refund_obj.get("status") or RefundStatus.pending))
    if _newer(refund.status, refund.last_event_created, incoming, created, FINAL_REFUND):
        refund.status = incoming
        refund.last_event_created = created
    refund.stripe_refund_id = refund_obj["id"]
    refund.amount = int(refund_obj["amount"])
    refund.updated_at = now
    session.add(refund)
    session.flush()
    recompute(session, order, now)


def record_dispute(
    session: Session, dispute_obj: dict[str, Any], created: int, now: datetime
) -> None:
    order = find_order(session, dispute_obj.get("payment_intent"), dispute_obj.get("metadata"))
    if order is None:
        log.info("dispute %s belongs to no order of ours", dispute_obj.get("id"))
        return
    dispute = session.exec(
        select(Dispute).where(Dispute.id == dispute_obj["id"]).with_for_update()
    ).first()
    incoming = DisputeStatus(str(dispute_obj["status"]))  # kept as it came if unknown
    if dispute is None:
        dispute = Dispute(
            id=dispute_obj["id"], order_id=order.id, amount=int(dispute_obj["amount"]),
            currency=order.currency, status=incoming,
            reason=str(dispute_obj.get("reason") or ""), last_event_created=created,
            created_at=now, updated_at=now,
        )  # fmt: skip
    elif _newer(dispute.status, dispute.last_event_created, incoming, created, FINAL_DISPUTE):
        dispute.status = incoming
        dispute.last_event_created = created
    dispute.updated_at = now
    session.add(dispute)
    session.flush()
    recompute(session, order, now)


def _newer(
    current: str, current_at: int, incoming: str, incoming_at: int, final: frozenset[str]
) -> bool:
    """Whether an incoming status replaces the current one: a final status is never
    undone by a non-final one, and otherwise the later Stripe event wins."""
    if current in final and incoming not in final:
        return False
    if incoming in final and current not in final:
        return True
    return incoming_at >= current_at
