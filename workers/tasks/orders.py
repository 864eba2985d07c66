"""Order tasks: mail tickets, expire reservations, ask Stripe about pending orders, cancel."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task

from streamsvc import idempotency
from streamsvc.orders import cancellation, fulfilment, rescheduling
from streamsvc.orders.buying import expired_pending, stale_pending
from workers.base import StreamsvcTask
from workers.tasks.payments import MONEY

log = logging.getLogger(__name__)


@shared_task(name="orders.send_tickets", max_retries=8, **MONEY)  # type: ignore[untyped-decorator]
def send_tickets(self: StreamsvcTask, order_id: str) -> None:
    """Mail the tickets of a paid order (once; a failed send is retried)."""
    resources = self.resources
    try:
        fulfilment.mail_tickets(resources.database, resources.settings, order_id,
                                resources.clock.now())  # fmt: skip
    except fulfilment.MailDeliveryError as exc:
        if exc.permanent:  # the server refused the address: retrying will not help
            log.warning("tickets of order %s not mailed: %s", order_id, exc)
            return
        raise self.retry(exc=exc, countdown=min(1800, 30 * 2**self.request.retries)) from exc


@shared_task(name="orders.send_reschedule_notice", max_retries=8, **MONEY)  # type: ignore[untyped-decorator]
def send_reschedule_notice(self: StreamsvcTask, notice_id: str) -> None:
    """Mail a buyer the new time of a rescheduled event (once; a failed send is retried)."""
    resources = self.resources
    try:
        rescheduling.mail_notice(resources.database, resources.settings, notice_id,
                                 resources.clock.now())  # fmt: skip
    except fulfilment.MailDeliveryError as exc:
        if exc.permanent:
            log.warning("reschedule notice %s not mailed: %s", notice_id, exc)
            return
        raise self.retry(exc=exc, countdown=min(1800, 30 * 2**self.request.retries)) from exc


@shared_task(name="orders.expire_reservations", **MONEY)  # type: ignore[untyped-decorator]
def expire_reservations(self: StreamsvcTask) -> int:
    """Cancel the PaymentIntents of unpaid, expired orders and release their capacity."""
    resources = self.resources
    with self.unit_of_work() as uow:
        due = expired_pending(uow.session, resources.clock.now())
    for order_id in due:
        fulfilment.expire(resources.database, resources.gateway, order_id, resources.clock.now())
    return len(due)


@shared_task(name="orders.check_pending_payments", **MONEY)  # type: ignore[untyped-decorator]
def check_pending_payments(self: StreamsvcTask) -> int:
    """Safety net for lost webhooks: ask Stripe about orders pending for a while."""
    resources = self.resources
    older_than = resources.clock.now() - timedelta(minutes=resources.settings.pending_check_minutes)
    with self.unit_of_work() as uow:
        waiting = stale_pending(uow.session, older_than)
    for order_id in waiting:
        fulfilment.reconcile_pending(resources.database, resources.gateway, order_id,
                                     resources.clock.now())  # fmt: skip
    return len(waiting)


@shared_task(  # type: ignore[untyped-decorator]
    base=StreamsvcTask, bind=True, name="orders.purge_idempotency_keys", ignore_result=True
)
def purge_idempotency_keys(self: StreamsvcTask) -> int:
    """Idempotency-Keys are kept for a day, as Stripe keeps its own."""
    with self.unit_of_work() as uow:
        return idempotency.purge(uow.session, self.resources.clock.now() - timedelta(days=1))


@shared_task(name="orders.run_cancellation", max_retries=10, **MONEY)  # type: ignore[untyped-decorator]
def run_cancellation(self: StreamsvcTask, job_id: str) -> None:
    """Settle a cancelled event's orders in batches; a re-run resumes, refunding nothing twice."""
    resources = self.resources
    try:
        cancellation.run(resources.database, job_id, resources.clock.now())
    except Exception as exc:
        log.warning("cancellation job %s interrupted: %r; retrying", job_id, exc)
        raise self.retry(exc=exc, countdown=min(600, 10 * 2**self.request.retries)) from exc
