"""Season pass tasks: mail a paid pass, post pass payments, settle ended or cancelled events."""

from __future__ import annotations

import logging

from celery import shared_task

from streamsvc.notifications.mail import MailDeliveryError
from streamsvc.passes import recognition
from streamsvc.passes.mail import mail_pass
from streamsvc.payments.gateway import PaymentProviderUnavailable
from workers.base import StreamsvcTask
from workers.tasks.payments import MONEY

log = logging.getLogger(__name__)


@shared_task(name="passes.send_pass", max_retries=8, **MONEY)  # type: ignore[untyped-decorator]
def send_pass(self: StreamsvcTask, order_id: str) -> None:
    """Mail a paid pass's link to its holder (once; a failed send is retried)."""
    resources = self.resources
    try:
        mail_pass(resources.database, resources.settings, order_id, resources.clock.now())
    except MailDeliveryError as exc:
        if exc.permanent:
            log.warning("pass of order %s not mailed: %s", order_id, exc)
            return
        raise self.retry(exc=exc, countdown=min(1800, 30 * 2**self.request.retries)) from exc


@shared_task(name="passes.collect_payments", **MONEY)  # type: ignore[untyped-decorator]
def collect_payments(self: StreamsvcTask) -> int:
    """Post paid passes whose payment Stripe reports now (VAT due, net deferred)."""
    resources = self.resources
    with self.unit_of_work() as uow:
        due = recognition.awaiting_collection(uow.session)
    posted = 0
    for order_id in due:
        try:
            posted += recognition.collect_payment(resources.database, resources.gateway,
                                                  order_id, resources.clock.now())  # fmt: skip
        except PaymentProviderUnavailable:
            log.warning("Stripe unreachable; pass payments are collected on the next run")
            break
    return posted


@shared_task(name="passes.settle_events", **MONEY)  # type: ignore[untyped-decorator]
def settle_events(self: StreamsvcTask) -> int:
    """Recognise the pass shares of ended events, refund those of cancelled ones."""
    resources = self.resources
    with self.unit_of_work() as uow:
        due = recognition.events_to_settle(uow.session, resources.clock.now())
    settled = 0
    for event_id in due:  # each event in its own unit of work
        settled += recognition.settle_event(resources.database, event_id, resources.clock.now())
    return settled


@shared_task(name="passes.settle_event", max_retries=10, **MONEY)  # type: ignore[untyped-decorator]
def settle_event(self: StreamsvcTask, event_id: str) -> int:
    """One event's pass shares: recognised (ended) or refunded (cancelled); idempotent."""
    resources = self.resources
    return recognition.settle_event(resources.database, event_id, resources.clock.now())
