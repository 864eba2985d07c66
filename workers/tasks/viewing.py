"""Audience tasks: an event's viewing figures copied from Redis into PostgreSQL, so that
its audience report outlives Redis's TTLs (streamsvc/viewing/report.py)."""

from __future__ import annotations

import logging

from celery import shared_task
from redis.exceptions import RedisError

from streamsvc.viewing.report import copy_audience, events_to_copy
from workers.base import StreamsvcTask

log = logging.getLogger(__name__)


@shared_task(  # type: ignore[untyped-decorator]
    base=StreamsvcTask, bind=True, name="viewing.copy_audience", ignore_result=True,
    autoretry_for=(RedisError,), retry_backoff=True, max_retries=5,
)  # fmt: skip
def copy_audience_task(self: StreamsvcTask, event_id: str) -> int:
    """Copy one event's audience figures (idempotent: each figure keeps the larger of the
    stored one and Redis's). Returns the rows written."""
    with self.unit_of_work() as uow:
        return copy_audience(uow.session, self.resources.redis, event_id)


@shared_task(  # type: ignore[untyped-decorator]
    base=StreamsvcTask, bind=True, name="viewing.copy_recent_audiences", ignore_result=True
)
def copy_recent_audiences_task(self: StreamsvcTask) -> int:
    """Beat: copy every event that ended and whose replay window has not long closed, each
    in its own transaction (one that fails is logged and the next run takes it again).
    Returns how many were copied."""
    with self.unit_of_work() as uow:
        event_ids = events_to_copy(uow.session, self.resources.clock.now())
    copied = 0
    for event_id in event_ids:
        try:
            with self.unit_of_work() as uow:
                copy_audience(uow.session, self.resources.redis, event_id)
        except RedisError as exc:
            log.warning("audience of %s not copied this time: %s", event_id, exc)
            continue
        copied += 1
    return copied
