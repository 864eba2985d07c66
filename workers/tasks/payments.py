"""Payment tasks: process (and sweep) the webhook inbox, submit refunds. Money tasks ack late."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from celery import shared_task

from streamsvc.bootstrap import Enqueue
from streamsvc.db import Database
from streamsvc.errors import DependencyUnavailable
from streamsvc.orders import webhooks
from streamsvc.orders.refunds import submit_refund as submit
from streamsvc.orders.refunds import unsubmitted
from streamsvc.payments import inbox
from workers.base import StreamsvcTask

MONEY: dict[str, Any] = {
    "base": StreamsvcTask,
    "bind": True,
    "acks_late": True,
    # Redelivered when the worker process dies mid-task (OOM, SIGKILL). The Task
    # attribute: `task_reject_on_worker_lost` is only the name of the global setting,
    # and as a task option Celery ignored it.
    "reject_on_worker_lost": True,
    "ignore_result": True,
}


@shared_task(  # type: ignore[untyped-decorator]
    name="payments.process_stripe_event", max_retries=8, **MONEY
)
def process_stripe_event(self: StreamsvcTask, *event_ids: str) -> list[str]:
    """Apply stored Stripe events (the ones the webhook stored in one commit), each in its
    own transaction; the statuses. Those that failed are retried with backoff, marked
    failed at the end, or at once when the event is malformed."""
    statuses: list[str] = []
    failures: dict[str, Exception] = {}
    for event_id in event_ids:
        try:
            statuses.append(_process(self, event_id))
        except Exception as exc:  # the others of the batch are still applied
            failures[event_id] = exc
    if not failures:
        return statuses
    first = next(iter(failures.values()))
    if self.request.retries >= self.max_retries:
        for event_id, failure in failures.items():
            with self.unit_of_work() as uow:
                inbox.mark_failed(uow.session, event_id, repr(failure), self.resources.clock.now())
        raise first
    # Only the ones that failed: the others are applied (and would be skipped anyway).
    raise self.retry(args=list(failures), exc=first, countdown=min(600, 2**self.request.retries))


def _process(task: StreamsvcTask, event_id: str) -> str:
    try:
        with task.unit_of_work() as uow:
            return webhooks.process(uow, event_id, task.resources.clock.now())
    except inbox.MalformedEvent as exc:  # rolled back; a retry would fail the same way
        with task.unit_of_work() as uow:
            inbox.mark_failed(uow.session, event_id, str(exc), task.resources.clock.now())
        return "failed"


# The sweep leaves an event this long to the message its commit sent (the worker
# behind by a burst), and sends at most this many a run, a message per batch.
SWEEP_GRACE = timedelta(minutes=1)
SWEEP_LIMIT, SWEEP_BATCH = 2000, 100


@shared_task(name="payments.sweep_inbox", **MONEY)  # type: ignore[untyped-decorator]
def sweep_inbox(self: StreamsvcTask) -> int:
    """Safety net (beat): events stored and answered but still waiting a minute later
    (the broker unreachable at their commit, a message lost) are sent to a worker
    again; the inbox applies each once, however often it is sent."""
    resources = self.resources
    return send_waiting(resources.database, self.enqueue, resources.clock.now())


def send_waiting(database: Database, enqueue: Enqueue, now: datetime) -> int:
    """Send the inbox's events waiting since before now - SWEEP_GRACE, oldest first, a
    message per SWEEP_BATCH; how many."""
    with database.unit_of_work() as uow:
        found = inbox.waiting(uow.session, now - SWEEP_GRACE, SWEEP_LIMIT)
    for start in range(0, len(found), SWEEP_BATCH):
        enqueue("payments.process_stripe_event", *found[start : start + SWEEP_BATCH])
    return len(found)


@shared_task(name="payments.submit_refund", max_retries=10, **MONEY)  # type: ignore[untyped-decorator]
def submit_refund(self: StreamsvcTask, refund_id: str) -> None:
    """Send a requested refund to Stripe (idempotency key refund:{id})."""
    resources = self.resources
    try:
        submit(resources.database, resources.gateway, refund_id, resources.clock.now())
    except DependencyUnavailable as exc:
        raise self.retry(exc=exc, countdown=min(600, 5 * 2**self.request.retries)) from exc


@shared_task(name="payments.retry_unsubmitted_refunds", **MONEY)  # type: ignore[untyped-decorator]
def retry_unsubmitted_refunds(self: StreamsvcTask) -> int:
    """Safety net: refunds recorded but never sent (a crash, an outage) are sent now."""
    with self.unit_of_work() as uow:
        waiting = unsubmitted(uow.session)
    for refund_id in waiting:
        self.enqueue("payments.submit_refund", refund_id)
    return len(waiting)
