"""Retention: personal data is not kept past its use (STREAMSVC_RETENTION_DAYS).

Once older than the retention period: Stripe webhook payloads (Stripe's copies of
buyers' addresses, names and card details) are emptied, keeping the row (its id still
stops a redelivery from being applied twice); applied outbox messages and idempotency
records are deleted; ticket mails in the development mail outbox are deleted. A row
still waiting to be processed or applied is kept whatever its age. Performers'
sign-in links and `/me` sessions go as soon as they can no longer be used. Running it
again changes nothing more. Orders keep their e-mail address for the venue's books until
the buyer asks for erasure (erasure.py); viewing sessions live only in Redis and
expire by themselves.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, update
from sqlmodel import Session, col

from streamsvc import idempotency
from streamsvc.me.signin import purge_spent
from streamsvc.outbox.models import OutboxMessage
from streamsvc.payments.models import StripeEvent, StripeEventStatus

# The name notifications.mail.OutboxSender gives a mail: <UTC stamp>-<random>.eml
_MAIL_STAMP = "%Y%m%dT%H%M%S%fZ"


@dataclass(frozen=True)
class Retained:
    """What one run cleared, by kind."""

    webhook_payloads: int
    outbox_messages: int
    idempotency_records: int
    mails: int
    performer_sign_ins: int = 0


def apply_retention(
    session: Session, now: datetime, days: int, mail_dir: Path | None = None
) -> Retained:
    """Clear what is older than `days` days at `now` (module docstring)."""
    cutoff = now - timedelta(days=days)
    emptied = session.execute(
        update(StripeEvent)
        .where(
            col(StripeEvent.received_at) < cutoff,
            col(StripeEvent.status) != StripeEventStatus.received,
            col(StripeEvent.payload) != {},
        )
        .values(payload={})
    )
    applied = session.execute(
        delete(OutboxMessage).where(
            col(OutboxMessage.done_at).is_not(None), col(OutboxMessage.done_at) < cutoff
        )
    )
    return Retained(
        webhook_payloads=_count(emptied),
        outbox_messages=_count(applied),
        idempotency_records=idempotency.purge(session, cutoff),
        mails=_remove_old_mails(mail_dir, cutoff) if mail_dir else 0,
        performer_sign_ins=purge_spent(session, now),
    )


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _remove_old_mails(directory: Path, cutoff: datetime) -> int:
    if not directory.is_dir():
        return 0
    removed = 0
    for path in directory.glob("*.eml"):
        with contextlib.suppress(ValueError, OSError):
            written = datetime.strptime(path.name.split("-", 1)[0], _MAIL_STAMP).replace(tzinfo=UTC)
            if written < cutoff:
                path.unlink()
                removed += 1
    return removed
