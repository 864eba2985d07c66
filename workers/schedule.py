"""The beat schedule: periodic work and how often it runs."""

from __future__ import annotations

from typing import Any

from config.settings import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "worker-heartbeat": {
            "task": "ops.worker_heartbeat",
            "schedule": float(settings.worker_heartbeat_seconds),
            "options": {"expires": settings.worker_heartbeat_seconds},
        },
        "advance-event-states": {
            "task": "catalog.advance_event_states",
            "schedule": 60.0,
            "options": {"expires": 60},
        },
    }
