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
        "expire-reservations": {
            "task": "orders.expire_reservations",
            "schedule": 30.0,
            "options": {"expires": 30},
        },
        "check-pending-payments": {
            "task": "orders.check_pending_payments",
            "schedule": 120.0,
            "options": {"expires": 120},
        },
        "retry-unsubmitted-refunds": {
            "task": "payments.retry_unsubmitted_refunds",
            "schedule": 300.0,
            "options": {"expires": 300},
        },
        "purge-idempotency-keys": {
            "task": "orders.purge_idempotency_keys",
            "schedule": 3600.0,
            "options": {"expires": 3600},
        },
        "advance-event-states": {
            "task": "catalog.advance_event_states",
            "schedule": 60.0,
            "options": {"expires": 60},
        },
    }
