"""Recording an action: one append-only row in the caller's transaction.

Who acted comes from `actor_var` (set by whoever authenticated the caller; unset is
the system: a worker, beat) and the request from `request_id_var`, so a service
records without knowing about HTTP. The row is written with the change it describes
and commits or rolls back with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from streamsvc.audit.models import AuditEntry
from streamsvc.kit.context import Actor, actor_var, request_id_var
from streamsvc.kit.ids import new_id

SYSTEM = Actor(kind="system", id="system", label="system")
# What finance keys may read: the actions that move or share money.
MONEY_ACTIONS = frozenset(
    {"order.refunded", "event.cancelled", "split_rule.versioned", "tier.price_changed",
     "finding.acknowledged", "export.downloaded",
     # Paying the parties (streamsvc/payouts): runs, four eyes, files, details.
     "payout_batch.created", "payout_batch.approved", "payout_batch.file_downloaded",
     "payout_batch.paid", "payout_line.failed", "payout_details.changed",
     "payout_details.confirmed", "payout_settings.changed", "event.rescheduled",
     # What a recording or a season pass sells for and whom it pays.
     "recording.offers_changed", "recording_split.versioned", "pass.created", "pass.updated",
     "venue.vat_number_changed"}
)  # fmt: skip
REDACTED = "[e-mail address removed]"
_EMAIL = re.compile(r"[^@\s\"'<>,;:]+@[^@\s\"'<>,;:]+\.[^@\s\"'<>,;:]+")


def record(
    session: Session,
    *,
    venue_id: str | None,
    action: str,
    object_type: str,
    object_id: str,
    changes: Mapping[str, object] | None = None,
) -> None:
    """Append one entry for `action` on the object, in the caller's transaction.

    `changes` says what changed (`{"field": {"before": x, "after": y}}`, or facts
    such as an amount) and refers to people by id. An e-mail address anywhere in it
    (a key's label may hold one) is replaced by REDACTED: an append-only row could
    never be erased."""
    data = _redact(dict(changes or {}))
    actor = actor_var.get() or SYSTEM
    request_id = request_id_var.get()
    session.add(
        AuditEntry(
            id=new_id("aud"),
            venue_id=venue_id,
            actor_kind=actor.kind,
            actor_id=actor.id[:64],
            action=action,
            object_type=object_type,
            object_id=object_id,
            changes=data,
            request_id=request_id[:64] if request_id else None,
            # The wall clock, not an injected one: the log says when it really happened.
            created_at=datetime.now(UTC),
        )
    )


def change(before: object, after: object) -> dict[str, object]:
    """The `changes` value of one field."""
    return {"before": before, "after": after}


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return _EMAIL.sub(REDACTED, value)
    if isinstance(value, Mapping):
        return {_redact(key): _redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact(item) for item in value]
    return value
