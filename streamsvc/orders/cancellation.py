"""Cancelling an event: refuse all access at once, then settle every order in batches.

The request only marks the event cancelled and creates the job: from that commit
on nothing is sold, no ticket redeems or authorizes (access checks the event's
status), and a pending order that still pays is refunded at once (see
settlement.record_payment). The job then works through the event's orders in
batches, keyset by order id, one unit of work per batch: it locks the batch's
orders, gives pending orders' seats back, records one refund row with origin
`event_cancelled` for what each paid order is owed (never a second: it looks for
one first), recomputes the order (its tickets are revoked, and the bus mirrors
that into Redis after the batch's commit), and moves the job's cursor and
progress in the same commit. Each refund raises `RefundRequested`, durable: a
worker sends it to Stripe after the commit, with the idempotency key `refund:{id}`.
A worker killed mid-job loses at most its open batch; running the job again
finishes the rest and refunds nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from streamsvc import audit
from streamsvc.catalog.events import status_of
from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.catalog.models import Event
from streamsvc.db import Database, UnitOfWork, emit
from streamsvc.errors import Conflict
from streamsvc.jobs.models import FINISHED_JOB, Job, JobStatus
from streamsvc.jobs.service import active_job, create_job
from streamsvc.kit.ids import new_id
from streamsvc.orders.buying import release_hold
from streamsvc.orders.events import CancellationRequested, RefundRequested, TicketStatusChanged
from streamsvc.orders.models import Order, OrderStatus, Ticket, TicketStatus
from streamsvc.orders.state import DISPUTED, recompute
from streamsvc.payments.models import Refund, RefundStatus
from streamsvc.venues.tenancy import owned

KIND = "event_cancellation"
BATCH_SIZE = 200


def cancel_event(session: Session, venue_id: str, event_id: str, now: datetime) -> Job:
    """Mark the event cancelled and create (or return the unfinished) cancellation job,
    which a worker is asked to run after the commit (again, for an unfinished one).

    Touches no order: the job does that, in batches."""
    event = owned(session, Event, event_id, venue_id, lock=True)
    current = status_of(event, now)
    if current is EventStatus.cancelled:
        running = active_job(session, KIND, event.id)
        if running is not None:
            emit(session, CancellationRequested(running.id))
            return running
    elif current is EventStatus.ended:
        raise Conflict("An ended event cannot be cancelled.", code="invalid_transition",
                       details={"current_status": current.value})  # fmt: skip
    event.status = EventStatus.cancelled.value
    event.updated_at = now
    session.add(event)
    # Viewers already watching are refused at once, not when their order's batch comes:
    # every ticket of the event is mirrored as revoked after this commit (one read of
    # ticket ids, no order locked). The batches then revoke them in PostgreSQL too.
    watching = session.exec(
        select(Ticket.id).where(Ticket.event_id == event.id, Ticket.status != TicketStatus.revoked)
    ).all()
    if watching:
        emit(session, TicketStatusChanged(dict.fromkeys(watching, TicketStatus.revoked.value)))
    job = create_job(session, venue_id, KIND, event.id, now)
    audit.record(
        session, venue_id=venue_id, action="event.cancelled", object_type="event",
        object_id=event.id,
        changes={"status": audit.change(current.value, EventStatus.cancelled.value),
                 "job_id": job.id},
    )  # fmt: skip
    emit(session, CancellationRequested(job.id))
    return job


def run(database: Database, job_id: str, now: datetime, batch_size: int = BATCH_SIZE) -> None:
    """Run the job to its end, batch by batch; after a crash, finishes what is left."""
    while not run_batch(database, job_id, now, batch_size):
        pass


def run_batch(database: Database, job_id: str, now: datetime, batch_size: int = BATCH_SIZE) -> bool:
    """Settle the next `batch_size` orders in one unit of work; True once the job is done.

    The job's row is locked for the batch, so two runs of the same job (a redelivered
    task) take turns instead of working the same orders."""
    with database.unit_of_work() as uow:
        session = uow.session
        job = session.exec(select(Job).where(Job.id == job_id).with_for_update()).one()
        if job.status in FINISHED_JOB:
            return True
        assert job.subject_id is not None
        event_id = job.subject_id
        if job.status == JobStatus.queued:
            job.status = JobStatus.running
            job.total = session.exec(
                select(func.count()).select_from(Order).where(Order.event_id == event_id)
            ).one()
            job.result = {"after": None, "refunds_requested": 0}
        after = job.result.get("after")
        query = select(Order).where(Order.event_id == event_id)
        if after is not None:
            query = query.where(col(Order.id) > after)
        batch = list(
            session.exec(query.order_by(col(Order.id)).limit(batch_size).with_for_update())
        )
        refunded = sum(_settle(uow, order, now) for order in batch)
        finished = len(batch) < batch_size
        job.done += len(batch)
        job.total = max(job.total, job.done)  # an order that raced the cancellation
        refunds = job.result.get("refunds_requested", 0) + refunded
        if finished:
            job.status = JobStatus.succeeded
            job.result = {"orders": job.done, "refunds_requested": refunds}
        else:  # the cursor: where the next batch (or a resumed run) starts
            job.result = {"after": batch[-1].id, "refunds_requested": refunds}
        job.updated_at = now
        session.add(job)
        return finished


def _settle(uow: UnitOfWork, order: Order, now: datetime) -> int:
    """Stop a pending order, refund a paid one once, and revoke its tickets; 1 if refunded."""
    session = uow.session
    if order.status == OrderStatus.pending:
        release_hold(session, order, OrderStatus.cancelled, now)
    refund = _cancellation_refund(session, order, now)
    recompute(session, order, now)
    if refund is None:
        return 0
    uow.emit(RefundRequested(refund.id))
    return 1


def _cancellation_refund(session: Session, order: Order, now: datetime) -> Refund | None:
    """The order's cancellation refund, if one is owed and none was recorded before."""
    owed = order.paid_amount - order.refunded_amount
    if owed <= 0 or order.dispute_status in DISPUTED:
        return None  # nothing paid, all returned already, or the money is held by a dispute
    existing = session.exec(select(Refund.id).where(
        Refund.order_id == order.id, Refund.origin == "event_cancelled"
    )).first()  # fmt: skip
    if existing is not None:
        return None
    refund = Refund(
        id=new_id("ref"), order_id=order.id, venue_id=order.venue_id, amount=owed,
        currency=order.currency, origin="event_cancelled", reason="the event was cancelled",
        status=RefundStatus.requested, created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(refund)
    session.flush()
    return refund
