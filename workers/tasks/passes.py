"""Season pass tasks: mail a paid pass, post pass payments, settle ended or cancelled events."""

from __future__ import annotations

import logging

from celery import shared_task

from streamsvc.notifications.mail import MailDeliveryError
from streamsvc.passes import coverage, outside, recognition
from streamsvc.passes.mail import mail_pass
from streamsvc.passes.transfer_mail import (
    give_up_notice,
    mail_transfer_notice,
    mail_transferred_pass,
)
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


@shared_task(name="passes.send_transferred_pass", max_retries=8, **MONEY)  # type: ignore[untyped-decorator]
def send_transferred_pass(self: StreamsvcTask, transfer_id: str) -> None:
    """Mail a transferred pass's new link to its new holder (once; retried)."""
    resources = self.resources
    try:
        mail_transferred_pass(resources.database, resources.settings, transfer_id,
                              resources.clock.now())  # fmt: skip
    except MailDeliveryError as exc:
        if exc.permanent:
            log.warning("transferred pass %s not mailed: %s", transfer_id, exc)
            return
        raise self.retry(exc=exc, countdown=min(1800, 30 * 2**self.request.retries)) from exc


@shared_task(name="passes.send_transfer_notice", max_retries=8, **MONEY)  # type: ignore[untyped-decorator]
def send_transfer_notice(self: StreamsvcTask, transfer_id: str) -> None:
    """Tell a pass's previous holder it was transferred (once; retried). Undeliverable
    in the end, their address is forgotten all the same."""
    resources = self.resources
    try:
        mail_transfer_notice(resources.database, resources.settings, transfer_id,
                             resources.clock.now())  # fmt: skip
    except MailDeliveryError as exc:
        if exc.permanent or self.request.retries >= self.max_retries:
            log.warning("transfer notice %s not mailed: %s", transfer_id, exc)
            give_up_notice(resources.database, transfer_id)
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


@shared_task(name="passes.absorb_outside_changes", **MONEY)  # type: ignore[untyped-decorator]
def absorb_outside_changes(self: StreamsvcTask) -> int:
    """Post pass money moved outside our refunds: dashboard refunds, lost disputes,
    refunds Stripe failed (passes/outside.py); idempotent."""
    resources = self.resources
    return outside.absorb_outside_changes(resources.database, resources.clock.now())


@shared_task(name="passes.settle_event", max_retries=10, **MONEY)  # type: ignore[untyped-decorator]
def settle_event(self: StreamsvcTask, event_id: str) -> int:
    """One event's pass shares: recognised (ended) or refunded (cancelled); idempotent."""
    resources = self.resources
    return recognition.settle_event(resources.database, event_id, resources.clock.now())


@shared_task(name="passes.cover_date_ranges", **MONEY)  # type: ignore[untyped-decorator]
def cover_date_ranges(self: StreamsvcTask) -> int:
    """Put the venue's new events in the date-range passes whose dates they start in
    (passes/coverage.py); which passes share their money with them depends on it."""
    with self.unit_of_work() as uow:
        return coverage.sync_all(uow.session, self.resources.clock.now())
