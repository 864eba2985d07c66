"""The Stripe webhook inbox: store every event once, process it in a worker.

`receive` runs in the webhook request: one INSERT ... ON CONFLICT DO NOTHING keyed
by Stripe's event id, so a redelivery is recognised and nothing is enqueued twice.
`process` runs in a Celery task: it locks the row, hands the event to `apply` (what
an event means for orders is orders' business: orders/webhooks.py, which settles it
idempotently and order-independently) and marks the row processed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from streamsvc.db import UnitOfWork
from streamsvc.payments.models import StripeEvent, StripeEventStatus

log = logging.getLogger(__name__)
# apply(uow, kind, object, created): the effect of one event, given its type, its
# data.object and Stripe's timestamp of it.
Apply = Callable[[UnitOfWork, str, dict[str, Any], int], None]

# The event types the inbox processes; others are stored as ignored.
PAYMENT_EVENTS = ("payment_intent.succeeded", "payment_intent.payment_failed",
                  "payment_intent.canceled")  # fmt: skip
REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")
DISPUTE_EVENTS = ("charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
                  "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated")  # fmt: skip
HANDLED = frozenset((*PAYMENT_EVENTS, *REFUND_EVENTS, *DISPUTE_EVENTS, "charge.refunded"))


def receive(session: Session, event: dict[str, Any], now: datetime) -> tuple[bool, bool]:
    """Store a verified event: (is it new, must it be processed)."""
    kind = str(event.get("type", ""))[:100]
    inserted = session.execute(
        insert(StripeEvent)
        .values(
            id=str(event["id"])[:255],
            type=kind,
            created=int(event.get("created") or 0),
            payload=event,
            status=StripeEventStatus.received if kind in HANDLED else StripeEventStatus.ignored,
            received_at=now,
            processed_at=None if kind in HANDLED else now,
        )
        .on_conflict_do_nothing()
        .returning(col(StripeEvent.id))
    ).first()
    new = inserted is not None
    return new, new and kind in HANDLED


def process(uow: UnitOfWork, event_id: str, now: datetime, apply: Apply) -> str:
    """Apply one stored event, once. Returns the row's status afterwards."""
    session = uow.session
    row = session.exec(
        select(StripeEvent).where(StripeEvent.id == event_id).with_for_update(skip_locked=True)
    ).first()
    if row is None:
        return "busy_or_unknown"  # another worker holds it, or it never existed
    if row.status != StripeEventStatus.received:
        return row.status
    obj: dict[str, Any] = (row.payload.get("data") or {}).get("object") or {}
    apply(uow, row.type, obj, row.created)
    row.status, row.processed_at = StripeEventStatus.processed, now
    row.attempts += 1
    session.add(row)
    return row.status


def mark_failed(session: Session, event_id: str, error: str, now: datetime) -> None:
    row = session.get(StripeEvent, event_id)
    if row is not None and row.status == StripeEventStatus.received:
        row.status, row.error, row.processed_at = StripeEventStatus.failed, error[:2000], now
        row.attempts += 1
        session.add(row)
