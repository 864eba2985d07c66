"""The relay: applies durable events whose handlers failed after their commit.

Beat runs it every few seconds (`outbox.relay`). It takes the messages that are due,
locked so that two workers never take the same one, runs their handlers through the
bus, and marks each done, or reschedules it with a growing delay and its error.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import col, select

from streamsvc.db import Database
from streamsvc.kit.events import DomainEvent
from streamsvc.outbox.bus import MessageBus
from streamsvc.outbox.models import OutboxMessage

log = logging.getLogger(__name__)
MAX_DELAY = timedelta(minutes=10)


def retry_delay(attempts: int) -> timedelta:
    """2, 4, 8 … seconds after each failure, at most ten minutes."""
    return min(MAX_DELAY, timedelta(seconds=2 ** min(attempts, 10)))


def relay(database: Database, bus: MessageBus, now: datetime, batch: int = 100) -> int:
    """Apply the due messages of one batch; the number applied."""
    applied = 0
    with database.unit_of_work() as uow:
        due = uow.session.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.done_at).is_(None), OutboxMessage.next_attempt_at <= now)
            .order_by(col(OutboxMessage.id))
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        for message in due:
            try:
                bus.handle(DomainEvent.decode(message.kind, message.payload))
            except Exception as exc:
                message.attempts += 1
                message.next_attempt_at = now + retry_delay(message.attempts)
                message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                log.warning("outbox message %s (%s) failed %d times: %s",
                            message.id, message.kind, message.attempts, exc)  # fmt: skip
            else:
                message.done_at = now
                applied += 1
            uow.session.add(message)
    return applied
