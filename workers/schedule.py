"""The beat schedule: periodic work and how often it runs."""

from __future__ import annotations

from typing import Any

from config.settings import Settings


def _every(task: str, seconds: float) -> dict[str, Any]:
    # A run that waited longer than its period is dropped: the next one does the work.
    return {"task": task, "schedule": seconds, "options": {"expires": seconds}}


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "worker-heartbeat": _every("ops.worker_heartbeat", settings.worker_heartbeat_seconds),
        "expire-reservations": _every("orders.expire_reservations", 30),
        "check-pending-payments": _every("orders.check_pending_payments", 120),
        "retry-unsubmitted-refunds": _every("payments.retry_unsubmitted_refunds", 300),
        "purge-idempotency-keys": _every("orders.purge_idempotency_keys", 3600),
        "advance-event-states": _every("catalog.advance_event_states", 60),
        "relay-outbox": _every("outbox.relay", settings.outbox_relay_seconds),
        # Webhook events answered whose message to the worker never came (the inbox
        # is their outbox: payments/events.py StripeEventsReceived).
        "sweep-stripe-inbox": _every("payments.sweep_inbox", 30),
        "reconcile-recent": _every("finance.reconcile_recent", settings.reconcile_interval_seconds),
        "apply-retention": _every("buyers.apply_retention", 3600),
        "copy-audiences": _every(
            "viewing.copy_recent_audiences", settings.viewing_audience_copy_seconds
        ),
        "collect-pass-payments": _every("passes.collect_payments", 300),
        "settle-pass-events": _every("passes.settle_events", 300),
        "absorb-pass-outside-changes": _every("passes.absorb_outside_changes", 60),
        # A new event joins a date-range pass within a minute (passes/coverage.py).
        "cover-pass-date-ranges": _every("passes.cover_date_ranges", 60),
        "delete-expired-exports": _every("finance.delete_expired_exports", 900),
        # Holders of a tier including a recording get it once the event has ended.
        "include-recordings": _every("recordings.include_for_ended_events", 300),
    }
