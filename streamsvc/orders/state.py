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

from streamsvc.catalog.models import Event
from streamsvc.orders.models import Order, Ticket
from streamsvc.payments.models import Dispute, Refund

TICKET_CHANGES = "ticket_status_changes"  # session.info key: ticket id -> new status
ACTIVE_REFUND = ("requested", "pending", "succeeded")
OPEN_DISPUTE = ("warning_needs_response", "warning_under_review", "needs_response",
                "under_review")  # fmt: skip
FINAL_REFUND = ("succeeded", "failed", "canceled")
FINAL_DISPUTE = ("won", "lost", "warning_closed")


def dispute_state(statuses: list[str]) -> str | None:
    if "lost" in statuses:
        return "lost"
    if any(s in OPEN_DISPUTE for s in statuses):
        return "open"
    if statuses:
        return "won"
    return None


def recompute(session: Session, order: Order, now: datetime) -> None:
    """Derive status, refunded amount and ticket status from the recorded facts."""
    refunds = session.exec(select(Refund).where(Refund.order_id == order.id)).all()
    disputes = session.exec(select(Dispute.status).where(Dispute.order_id == order.id)).all()
    event = session.get(Event, order.event_id)
    cancelled = event is not None and event.status == "cancelled"
    order.refunded_amount = sum(r.amount for r in refunds if r.status in ACTIVE_REFUND)
    order.dispute_status = dispute_state(list(disputes))

    ticket_status = "valid"
    if order.paid_amount > 0:
        fully_refunded = order.refunded_amount >= order.paid_amount
        if order.dispute_status in ("open", "lost"):
            order.status = "disputed"
        elif fully_refunded:
            order.status = "cancelled" if cancelled else "refunded"
        elif order.refunded_amount > 0:
            order.status = "partially_refunded"
        else:
            order.status = "paid"
        if cancelled or fully_refunded or order.dispute_status == "lost":
            ticket_status = "revoked"
        elif order.dispute_status == "open":
            ticket_status = "suspended"
    elif cancelled and order.status == "pending":
        order.status = "cancelled"
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
    note_ticket_statuses(session, {ticket_id: ticket_status for ticket_id in changed})


def note_ticket_statuses(session: Session, statuses: dict[str, str]) -> None:
    """Remember status changes, for the after-commit hooks (viewing mirrors them in Redis)."""
    session.info.setdefault(TICKET_CHANGES, {}).update(statuses)
