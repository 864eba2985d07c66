"""May a recording access play now: its status, its recording's, and a rental's window.

A rental's window opens at its first redemption, in PostgreSQL and once: the
UPDATE only takes a row whose `started_at` is still empty, so two devices redeeming
at the same moment open one window, and the loser reads the winner's. Losing Redis
loses sessions, never a window: a redemption after it finds the window here, still
running or over. A purchase and a free access have no window. An access included
with a ticket (recordings/included.py) has its window from the moment it is issued,
[the event's end, + the tier's days): it is never opened here, only checked.

Refusals: 403 `access_revoked`, `access_suspended`, `recording_withdrawn` (withdrawn,
and what was bought does not outlive that), `not_yet` (an included access before its
window); 410 `rental_expired` (not started before `start_by`), `rental_over` (after
`ends_at`) and `included_over` (an included access after its window): none comes back.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from streamsvc.errors import Forbidden, NotFound, ServiceError
from streamsvc.recordings.access import AccessKind, AccessStatus, RecordingAccess
from streamsvc.recordings.models import Recording, RecordingStatus
from streamsvc.venues.models import Venue

# Devices one access plays on at once; a further one is refused until one stops (or
# its heartbeats stop for the viewing idle time). Offers carry no limit of their own.
MAX_DEVICES = 2
ON_DEVICE_LIMIT = "refuse"


class RentalGone(ServiceError):
    """The rental's time is up, for good: not started in time, or its window over."""

    status, code = 410, "rental_over"


@dataclass(frozen=True)
class Playable:
    """What an access plays and until when (`ends_at`: a rental's or an included access's
    window, else None)."""

    access_id: str
    recording_id: str
    title: str
    kind: AccessKind
    quality: str  # the best rendition the recording exists in
    playback: str  # the origin's base URL, no trailing slash ("" when not set)
    start_by: datetime | None
    watch_hours: int | None
    started_at: datetime | None
    ends_at: datetime | None
    timezone: str  # the venue's, to show the moments in
    refusal: ServiceError | None  # why it does not play now (None: it plays)

    def phase(self, now: datetime) -> str:
        """For the watch page: ended | expired | over | not_yet (an included access before
        its window) | ready (a rental not started) | open."""
        if self.refusal is not None:
            code = self.refusal.code
            return {"rental_expired": "expired", "rental_over": "over", "included_over": "over",
                    "not_yet": "not_yet"}.get(code, "ended")  # fmt: skip
        if self.kind == AccessKind.rental and self.started_at is None:
            return "ready"
        return "open"


def _refusal(access: RecordingAccess, recording: Recording, now: datetime) -> ServiceError | None:
    if access.status == AccessStatus.revoked:
        return Forbidden("This access was revoked: the order was refunded.",
                         code="access_revoked")  # fmt: skip
    if access.status == AccessStatus.suspended:
        return Forbidden("This access is held while its payment is disputed.",
                         code="access_suspended")  # fmt: skip
    if (
        recording.status == RecordingStatus.withdrawn
        and not recording.access_continues_after_withdrawal
    ):
        return Forbidden("This recording was withdrawn from the archive.",
                         code="recording_withdrawn")  # fmt: skip
    if access.kind == AccessKind.rental:
        return _rental_refusal(access, now)
    if access.kind == AccessKind.included:
        return _included_refusal(access, now)
    return None


def _rental_refusal(access: RecordingAccess, now: datetime) -> ServiceError | None:
    if access.started_at is None:
        assert access.start_by is not None  # the table's rental terms
        if now >= access.start_by:
            return RentalGone("This rental was not started in time.", code="rental_expired",
                              details={"start_by": access.start_by.isoformat()})  # fmt: skip
        return None
    assert access.ends_at is not None  # the table's window rule
    if now >= access.ends_at:
        return RentalGone("This rental's viewing window is over.", code="rental_over",
                          details={"ends_at": access.ends_at.isoformat()})  # fmt: skip
    return None


def _included_refusal(access: RecordingAccess, now: datetime) -> ServiceError | None:
    """Included with a ticket: it plays inside [started_at, ends_at) only, as issued."""
    assert access.started_at is not None and access.ends_at is not None  # the table's rule
    if now < access.started_at:
        return Forbidden("The recording can be watched after the event.", code="not_yet",
                         details={"opens_at": access.started_at.isoformat()})  # fmt: skip
    if now >= access.ends_at:
        return RentalGone("The time to watch this recording with your ticket is over.",
                          code="included_over",
                          details={"ends_at": access.ends_at.isoformat()})  # fmt: skip
    return None


def _playable(
    access: RecordingAccess, recording: Recording, venue: Venue, now: datetime
) -> Playable:
    return Playable(
        access_id=access.id, recording_id=recording.id, title=recording.title,
        kind=access.kind, quality=recording.quality,
        playback=(recording.playback or "").rstrip("/"), start_by=access.start_by,
        watch_hours=access.watch_hours, started_at=access.started_at, ends_at=access.ends_at,
        timezone=venue.timezone, refusal=_refusal(access, recording, now),
    )  # fmt: skip


def _load(session: Session, *where: object) -> tuple[RecordingAccess, Recording, Venue] | None:
    row = session.exec(
        select(RecordingAccess, Recording, Venue)
        .join(Recording, col(Recording.id) == col(RecordingAccess.recording_id))
        .join(Venue, col(Venue.id) == col(RecordingAccess.venue_id))
        .where(*where)  # type: ignore[arg-type]
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def _open(session: Session, access: RecordingAccess, now: datetime) -> None:
    """Open the rental's window now, unless a concurrent redemption just did."""
    assert access.watch_hours is not None
    opened = session.execute(
        update(RecordingAccess)
        .where(col(RecordingAccess.id) == access.id, col(RecordingAccess.started_at).is_(None))
        .values(started_at=now, ends_at=now + timedelta(hours=access.watch_hours), updated_at=now)
        .returning(col(RecordingAccess.id))
        .execution_options(synchronize_session=False)
    ).first()
    # Either way the row now holds the one window: ours, or the one that won the race
    # (read again, committed before our UPDATE went on).
    session.refresh(access)
    assert opened is not None or access.started_at is not None


def redeem(session: Session, code: str, now: datetime) -> Playable:
    """The access of `code`, its rental's window opened if this is its first redemption;
    404 unknown, 403/410 when it does not play now."""
    found = _load(session, col(RecordingAccess.code) == code)
    if found is None:
        raise NotFound("No such recording access.")
    access = found[0]
    playable = _playable(*found, now)
    if playable.refusal is not None:
        raise playable.refusal
    # Only a rental opens at its first play; an included access came with its window.
    if access.kind == AccessKind.rental and access.started_at is None:
        _open(session, access, now)
        playable = _playable(*found, now)
        if playable.refusal is not None:  # (a window opened long ago by a racing device)
            raise playable.refusal
    return playable


def still_playable(session: Session, access_id: str, now: datetime) -> Playable:
    """The heartbeat's check against the truth: 403/410 once it does not play."""
    found = _load(session, col(RecordingAccess.id) == access_id)
    if found is None:
        raise Forbidden("This access no longer exists.", code="access_revoked")
    playable = _playable(*found, now)
    if playable.refusal is not None:
        raise playable.refusal
    return playable


def watch_access(session: Session, access_id: str, code: str, now: datetime) -> Playable:
    """The access `access_id`, if `code` is its code (404 otherwise, no hint which), as
    it stands now; nothing is opened: looking is not watching."""
    found = _load(session, col(RecordingAccess.id) == access_id)
    if found is None or not hmac.compare_digest(found[0].code.encode(), code.encode()):
        raise NotFound("No such recording access.")
    return _playable(*found, now)
