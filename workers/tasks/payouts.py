"""Payout tasks: mail the payout advices of a batch the bank executed (retried until sent)."""

from __future__ import annotations

import logging

from celery import shared_task

from streamsvc.notifications.mail import MailDeliveryError, sender_from_settings
from streamsvc.payouts.advice import send_advices as send
from workers.base import StreamsvcTask

log = logging.getLogger(__name__)


@shared_task(
    name="payouts.send_advices",
    base=StreamsvcTask,
    bind=True,
    max_retries=8,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)  # type: ignore[untyped-decorator]
def send_advices(self: StreamsvcTask, batch_id: str) -> int:
    """Mail each paid line of the batch its advice; lines already advised are skipped,
    so a retry mails only the rest."""
    resources = self.resources
    try:
        return send(
            resources.database,
            resources.settings,
            sender_from_settings(resources.settings),
            batch_id,
            resources.clock.now(),
        )
    except MailDeliveryError as exc:
        if exc.permanent:
            log.warning("payout advices of %s: a mail was refused: %s", batch_id, exc)
            raise
        raise self.retry(exc=exc, countdown=min(1800, 30 * 2**self.request.retries)) from exc
