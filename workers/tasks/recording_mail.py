"""Recording tasks: mail a bought recording's access to its buyer; issue (on beat) and
mail the accesses included with ended events' tickets."""

from __future__ import annotations

import logging

from celery import shared_task

from streamsvc.notifications.mail import MailDeliveryError
from streamsvc.recordings import included
from streamsvc.recordings.included import mail_included
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


@shared_task(name="recordings.send_included_access", max_retries=8, **MONEY)  # type: ignore[untyped-decorator]
def send_included_access(self: StreamsvcTask, access_id: str) -> None:
    """Mail the watch link of a recording included with an event's ticket (once; a failed
    send is retried, a refused address is not)."""
    resources = self.resources
    try:
        mail_included(resources.database, resources.settings, access_id, resources.clock.now())
    except MailDeliveryError as exc:
        if exc.permanent:
            log.warning("included recording access %s not mailed: %s", access_id, exc)
            return
        raise self.retry(exc=exc, countdown=min(1800, 30 * 2**self.request.retries)) from exc


@shared_task(  # type: ignore[untyped-decorator]
    base=StreamsvcTask, bind=True, name="recordings.include_for_ended_events", ignore_result=True
)
def include_for_ended_events(self: StreamsvcTask) -> int:
    """Give the holders of ended events' tiers that include a recording their access
    (recordings/included.py); idempotent."""
    resources = self.resources
    return len(included.include_for_ended_events(resources.database, resources.clock.now()))
