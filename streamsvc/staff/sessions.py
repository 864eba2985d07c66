"""Console sessions: a random id in an HttpOnly cookie, its SHA-256 in `staff_sessions`.

A session ends at its idle timeout (no request for `idle_seconds`), at its absolute
timeout (`expires_at`, counted from the login), at logout, when its holder logs out
everywhere, changes the password, or is removed from the venue. Nothing else extends
it than using it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from config.settings import Settings
from streamsvc.staff.models import StaffSession

SESSION_COOKIE = "staff_session"
COOKIE_PATH = "/console"
# The platform console (streamsvc/platform) gets the same session in a cookie of its own
# path, so the browser sends it to /console and /platform and nowhere else.
PLATFORM_COOKIE_PATH = "/platform"
# Recording every request would make every read a write; this is precise enough for an
# idle timeout counted in minutes.
_TOUCH_RESOLUTION = timedelta(seconds=30)
_MAX_TOKEN_CHARS = 100


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(
    session: Session, settings: Settings, person_id: str, venue_id: str | None, now: datetime
) -> str:
    """A new session; returns the cookie's value (shown to this browser only). `venue_id`
    None: a platform admin's session at no venue."""
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            id_hash=hash_token(token),
            person_id=person_id,
            venue_id=venue_id,
            created_at=now,
            last_seen_at=now,
            idle_seconds=settings.staff_session_idle_minutes * 60,
            expires_at=now + timedelta(hours=settings.staff_session_absolute_hours),
        )
    )
    session.flush()
    return token


def current(session: Session, token: str | None, now: datetime) -> StaffSession | None:
    """The live session of this cookie value; None when unknown, ended or timed out."""
    if not token or len(token) > _MAX_TOKEN_CHARS:
        return None
    row = session.get(StaffSession, hash_token(token))
    if row is None or row.ended_at is not None:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= timedelta(seconds=row.idle_seconds):
        return None  # timed out: the times say so, whatever else the request does
    if now - row.last_seen_at >= _TOUCH_RESOLUTION:
        row.last_seen_at = now
        session.add(row)
    return row


def end(session: Session, token: str | None, now: datetime) -> str | None:
    """End this browser's session (logout); the person's id when there was one."""
    if not token or len(token) > _MAX_TOKEN_CHARS:
        return None
    row = session.get(StaffSession, hash_token(token))
    if row is None:
        return None
    if row.ended_at is None:
        row.ended_at = now
        session.add(row)
    return row.person_id


def end_all(session: Session, person_id: str, now: datetime, *, venue_id: str | None = None) -> int:
    """End every live session of a person (or only those at `venue_id`); how many."""
    query = update(StaffSession).where(
        col(StaffSession.person_id) == person_id, col(StaffSession.ended_at).is_(None)
    )
    if venue_id is not None:
        query = query.where(col(StaffSession.venue_id) == venue_id)
    result = session.exec(query.values(ended_at=now))
    return int(result.rowcount or 0)


def switch_venue(session: Session, row: StaffSession, venue_id: str) -> None:
    row.venue_id = venue_id
    session.add(row)


def live_sessions(session: Session, person_id: str) -> list[StaffSession]:
    query = select(StaffSession).where(
        StaffSession.person_id == person_id, col(StaffSession.ended_at).is_(None)
    )
    return list(session.exec(query))
