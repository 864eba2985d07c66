"""Cancelling an event: revoke every ticket at once, then refund every paid order once.

Revocation happens in the request's transaction (the event's status is the truth
tickets are checked against). Refunds are a job: each paid order gets one refund
row with origin `event_cancelled` (never a second: the job looks for it first),
submitted with the idempotency key `refund:{id}`. Running the job again after a
crash therefore refunds nothing twice; it only finishes what is left.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from streamsvc.catalog.events import status_of
from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.catalog.models import Event
from streamsvc.db import Database
from streamsvc.errors import Conflict
from streamsvc.jobs.models import Job, JobStatus
from streamsvc.jobs.service import active_job, create_job
from streamsvc.kit.ids import new_id
from streamsvc.orders.buying import lock_order, release_hold
from streamsvc.orders.models import Order, OrderStatus
from streamsvc.orders.refunds import submit_refund
from streamsvc.orders.state import DISPUTED, recompute
from streamsvc.payments.gateway import PaymentGateway
from streamsvc.payments.models import Refund, RefundStatus
from streamsvc.venues.tenancy import owned

KIND = "event_cancellation"


def cancel_event(session: Session, venue_id: str, event_id: str, now: datetime) -> Job:
    """Mark the event cancelled and start (or return the running) refund job."""
    event = owned(session, Event, event_id, venue_id, lock=True)
    current = status_of(event, now)
    if current is EventStatus.cancelled:
        running = active_job(session, KIND, event.id)
        if running is not None:
            return running
    elif current is EventStatus.ended:
        raise Conflict("An ended event cannot be cancelled.", code="invalid_transition",
                       details={"current_status": current.value})  # fmt: skip
    event.status = EventStatus.cancelled.value
    event.updated_at = now
    session.add(event)
    # Every order recomputes: tickets are revoked now, pending orders stop.
    for order_id in session.exec(select(Order.id).where(Order.event_id == event.id)):
        order = lock_order(session, order_id)
        assert order is not None
        if order.status == OrderStatus.pending:
            release_hold(session, order, OrderStatus.cancelled, now)
        recompute(session, order, now)
    return create_job(session, venue_id, KIND, event.id, now)


def run(database: Database, gateway: PaymentGateway, job_id: str, now: datetime) -> None:
    """Refund every paid order of the cancelled event; safe to run again."""
    with database.unit_of_work() as uow:
        job = uow.session.exec(select(Job).where(Job.id == job_id).with_for_update()).one()
        if job.status == JobStatus.succeeded:
            return
        event_id = job.subject_id
        orders = list(uow.session.exec(
            select(Order.id).where(Order.event_id == event_id, col(Order.paid_amount) > 0)
            .order_by(col(Order.created_at))
        ))  # fmt: skip
        job.status, job.total, job.updated_at = JobStatus.running, len(orders), now
        uow.session.add(job)
    refunded = 0
    for done, order_id in enumerate(orders, start=1):
        refund_id = _ensure_refund(database, order_id, now)
        if refund_id is not None:
            submit_refund(database, gateway, refund_id, now)
            refunded += 1
        with database.unit_of_work() as uow:
            job = uow.session.exec(select(Job).where(Job.id == job_id).with_for_update()).one()
            job.done, job.updated_at = done, now
            uow.session.add(job)
    with database.unit_of_work() as uow:
        job = uow.session.exec(select(Job).where(Job.id == job_id).with_for_update()).one()
        job.status, job.updated_at = JobStatus.succeeded, now
        job.result = {"orders": len(orders), "refunds_submitted": refunded}
        uow.session.add(job)


def _ensure_refund(database: Database, order_id: str, now: datetime) -> str | None:
    """The cancellation refund of this order, created once; None if nothing is owed."""
    with database.unit_of_work() as uow:
        session = uow.session
        order = lock_order(session, order_id)
        assert order is not None
        existing = session.exec(select(Refund).where(
            Refund.order_id == order.id, Refund.origin == "event_cancelled"
        )).first()  # fmt: skip
        if existing is not None:
            return existing.id if existing.status == RefundStatus.requested else None
        owed = order.paid_amount - order.refunded_amount
        if owed <= 0 or order.dispute_status in DISPUTED:
            return None
        refund = Refund(
            id=new_id("ref"), order_id=order.id, venue_id=order.venue_id, amount=owed,
            currency=order.currency, origin="event_cancelled", reason="the event was cancelled",
            status=RefundStatus.requested, created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(refund)
        session.flush()
        recompute(session, order, now)
        return refund.id
