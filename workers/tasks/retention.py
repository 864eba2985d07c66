"""Retention task: beat clears personal data older than STREAMSVC_RETENTION_DAYS."""

from __future__ import annotations

import logging

from celery import shared_task

from streamsvc.buyers.retention import apply_retention
from workers.base import StreamsvcTask

log = logging.getLogger(__name__)


@shared_task(  # type: ignore[untyped-decorator]
    base=StreamsvcTask, bind=True, name="buyers.apply_retention", ignore_result=True
)
def apply_retention_task(self: StreamsvcTask) -> int:
    """Empty old webhook payloads, delete old outbox messages, idempotency records and
    development mails (idempotent: a second run finds nothing). Returns what it cleared."""
    resources = self.resources
    settings = resources.settings
    with self.unit_of_work() as uow:
        done = apply_retention(uow.session, resources.clock.now(), settings.retention_days,
                               mail_dir=settings.data_dir / "outbox")  # fmt: skip
    cleared = done.webhook_payloads + done.outbox_messages + done.idempotency_records + done.mails
    if cleared:
        log.info("retention cleared %s", done)
    return cleared
