"""Recording sales' task: mail a bought recording's access to its buyer."""

from __future__ import annotations

import logging

from celery import shared_task

from streamsvc.notifications.mail import MailDeliveryError
from streamsvc.recordings.mail import mail_access
from workers.base import StreamsvcTask
from workers.tasks.payments import MONEY

log = logging.getLogger(__name__)


@shared_task(name="recordings.send_access", max_retries=8, **MONEY)  # type: ignore[untyped-decorator]
def send_access(self: StreamsvcTask, order_id: str) -> None:
    """Mail the watch link of a paid (or free) recording order (once; a failed send is
    retried, a refused address is not)."""
    resources = self.resources
    try:
        mail_access(resources.database, resources.settings, order_id, resources.clock.now())
    except MailDeliveryError as exc:
        if exc.permanent:
            log.warning("recording access of order %s not mailed: %s", order_id, exc)
            return
        raise self.retry(exc=exc, countdown=min(1800, 30 * 2**self.request.retries)) from exc
