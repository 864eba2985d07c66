"""Payment tasks: process the webhook inbox, submit refunds. Money tasks ack late."""

from __future__ import annotations

from typing import Any

from celery import shared_task

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
def process_stripe_event(self: StreamsvcTask, event_id: str) -> str:
    """Apply one stored Stripe event; retried with backoff, marked failed at the end, or
    at once when the event is malformed."""
    try:
        with self.unit_of_work() as uow:
            return webhooks.process(uow, event_id, self.resources.clock.now())
    except inbox.MalformedEvent as exc:  # rolled back; a retry would fail the same way
        with self.unit_of_work() as uow:
            inbox.mark_failed(uow.session, event_id, str(exc), self.resources.clock.now())
        return "failed"
    except Exception as exc:
        if self.request.retries >= self.max_retries:
            with self.unit_of_work() as uow:
                inbox.mark_failed(uow.session, event_id, repr(exc), self.resources.clock.now())
            raise
        raise self.retry(exc=exc, countdown=min(600, 2**self.request.retries)) from exc


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
