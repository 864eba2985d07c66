"""Celery configuration derived from the settings."""

from __future__ import annotations

from typing import Any

from config.settings import Settings


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": settings.broker_url,
        "broker_connection_retry_on_startup": True,
        # Sending a task while the broker is away fails within about a second instead
        # of holding up the request: what must not be lost waits in the outbox, and
        # the relay sends it once the broker is back.
        "broker_connection_timeout": 2,
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.2,
        },
        # Jobs report their state in PostgreSQL; nobody reads Celery results.
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        "worker_hijack_root_logger": False,
        "worker_prefetch_multiplier": 1,
        # A task that outlives this is a bug; the broker redelivers it after the
        # visibility timeout, which must exceed the longest task.
        "task_time_limit": 30 * 60,
        "broker_transport_options": {"visibility_timeout": 60 * 60},
        "beat_schedule_filename": str(settings.data_dir / "celerybeat-schedule"),
    }
