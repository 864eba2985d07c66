"""An order's status and its tickets' status, derived from the facts about it.

Facts arrive from Stripe in any order and any number of times: the payment, each
refund, each dispute. Instead of stepping a state machine per event, every
handler records its fact idempotently and then recomputes the whole state here,
so the end state depends only on the set of facts, never on their order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.catalog.models import Event
from streamsvc.db import emit
from streamsvc.orders.events import RecordingAccessStatusChanged, TicketStatusChanged
from streamsvc.orders.models import Order, OrderDisputeStatus, OrderStatus, Ticket, TicketStatus
from streamsvc.orders.recording_orders import set_access_status
from streamsvc.payments.models import Dispute, DisputeStatus, Refund, RefundStatus

# A status Stripe adds later is in none of these (see OpenStrEnum): a refund in it
# counts as not under way, and a dispute in it as neither open nor final.
ACTIVE_REFUND = frozenset({RefundStatus.requested, RefundStatus.pending, RefundStatus.succeeded})
OPEN_DISPUTE = frozenset({DisputeStatus.warning_needs_response, DisputeStatus.warning_under_review,
                          DisputeStatus.needs_response, DisputeStatus.under_review})  # fmt: skip
FINAL_REFUND = frozenset({RefundStatus.succeeded, RefundStatus.failed, RefundStatus.canceled})
FINAL_DISPUTE = frozenset({DisputeStatus.won, DisputeStatus.lost, DisputeStatus.warning_closed})
DISPUTED = frozenset({OrderDisputeStatus.open, OrderDisputeStatus.lost})  # the money is held


def dispute_state(statuses: list[DisputeStatus]) -> OrderDisputeStatus | None:
    if DisputeStatus.lost in statuses:
        return OrderDisputeStatus.lost
    if any(s in OPEN_DISPUTE for s in statuses):
        return OrderDisputeStatus.open
    if statuses:
        return OrderDisputeStatus.won
    return None


def recompute(session: Session, order: Order, now: datetime) -> None:
    """Derive status, refunded amount and ticket status from the recorded facts."""
    refunds = session.exec(select(Refund).where(Refund.order_id == order.id)).all()
    disputes = session.exec(select(col(Dispute.status)).where(Dispute.order_id == order.id)).all()
    event = session.get(Event, order.event_id) if order.event_id is not None else None
    cancelled = event is not None and event.status == EventStatus.cancelled
    order.refunded_amount = sum(r.amount for r in refunds if r.status in ACTIVE_REFUND)
    order.dispute_status = dispute_state(list(disputes))

    ticket_status = TicketStatus.valid
    if order.paid_at is not None and order.paid_amount == 0:
        # A free order (fulfilment.issue_free): nothing to refund or dispute.
        order.status = OrderStatus.cancelled if cancelled else OrderStatus.paid
        if cancelled:
            ticket_status = TicketStatus.revoked
    elif order.paid_amount > 0:
        fully_refunded = order.refunded_amount >= order.paid_amount
        if order.dispute_status in DISPUTED:
            order.status = OrderStatus.disputed
        elif fully_refunded:
            order.status = OrderStatus.cancelled if cancelled else OrderStatus.refunded
        elif order.refunded_amount > 0:
            order.status = OrderStatus.partially_refunded
        else:
            order.status = OrderStatus.paid
        if cancelled or fully_refunded or order.dispute_status == OrderDisputeStatus.lost:
            ticket_status = TicketStatus.revoked
        elif order.dispute_status == OrderDisputeStatus.open:
            ticket_status = TicketStatus.suspended
    elif cancelled and order.status == OrderStatus.pending:
        order.status = OrderStatus.cancelled
    order.updated_at = now
    session.add(order)
    changed = session.execute(
        update(Ticket)
        .where(
            col(Ticket.order_id) == order.id,
            col(Ticket.status) != ticket_status,
            col(Ticket.revoked_by_staff).is_(False),
        )
        .values(status=ticket_status, updated_at=now)
        .returning(col(Ticket.id))
    ).scalars()
    statuses = {ticket_id: str(ticket_status) for ticket_id in changed}
    if statuses:
        emit(session, TicketStatusChanged(statuses))
    _set_recording_access(session, order, ticket_status, now)


def _set_recording_access(
    session: Session, order: Order, status: TicketStatus, now: datetime
) -> None:
    """A recording's access follows the same facts as a ticket (recording_orders.py):
    a recording's order's, and an event order's access included with its tickets
    (recordings/included.py). An order without one changes nothing."""
    accesses = set_access_status(session, order.id, str(status), now)
    if accesses:
        emit(session, RecordingAccessStatusChanged(accesses))
