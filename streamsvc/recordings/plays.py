"""Counting a recording's plays in PostgreSQL (what rights holders' statements show).

Sessions live in Redis, which may be lost and is not the truth; a play is recorded
here when a device starts a recording: once per access, device and day, so that a
reload or a player redeeming again is not another play (ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from streamsvc.recordings.access import RecordingPlay


def record_play(
    session: Session, access_id: str, recording_id: str, device_id: str, now: datetime
) -> bool:
    """Record that `device_id` started the access's recording now; False when it had
    already been counted today."""
    device = hashlib.sha256(device_id.encode()).hexdigest()[:16]
    inserted = session.execute(
        insert(RecordingPlay)
        .values(
            access_id=access_id,
            device=device,
            day=now.astimezone(UTC).date(),
            recording_id=recording_id,
            started_at=now,
        )
        .on_conflict_do_nothing()
        .returning(col(RecordingPlay.access_id))
    ).first()
    return inserted is not None
