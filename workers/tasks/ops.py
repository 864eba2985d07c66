"""Operational tasks."""

from __future__ import annotations

from celery import shared_task

from streamsvc.ops.heartbeat import record_heartbeat
from workers.base import StreamsvcTask


@shared_task(  # type: ignore[untyped-decorator]
    base=StreamsvcTask, bind=True, name="ops.worker_heartbeat", ignore_result=True
)
def worker_heartbeat(self: StreamsvcTask) -> None:
    """Record that a worker is consuming tasks (scheduled by beat)."""
    resources = self.resources
    record_heartbeat(resources.redis, resources.settings.worker_heartbeat_seconds)
