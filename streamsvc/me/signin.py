"""Signing performers in: a link by mail, used once, then a session in a cookie.

The link is `/me/sign-in/complete#token=…`: the token travels in the fragment, which
no browser sends to a server, so it is in no access log; the page hands it over once
by POST (static/js/me-sign-in.js). The token is derived from the link row's random
id with a server key (HMAC, as staff links are: streamsvc/staff/links.py), so the
worker that mails it later can compute it again; only its SHA-256 is stored.

Asking for a link gets the same answer whether or not the address is a performer's:
a link (and a mail) is made only for a known address. The pages rate-limit the asking
per address and per client (pages.py).

A session is a random id in the `performer_session` cookie (HttpOnly, SameSite=Lax,
Path=/me) and its SHA-256 in `performer_sessions`, ending after its idle timeout, its
absolute timeout, or at sign-out. It names a person by e-mail address; what the
person may see is read again on every request (reading.py), so a performer whose
address a venue changes is out of that venue's rows at once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_
from sqlmodel import Session, col, select

from config.settings import Settings
from streamsvc.catalog.models import Performer
from streamsvc.db import emit
from streamsvc.errors import ValidationFailed
from streamsvc.kit.ids import new_id
from streamsvc.me.events import PerformerSignInRequested
from streamsvc.me.models import PerformerSession, PerformerSignInLink
from streamsvc.staff import links

PURPOSE = b"streamsvc performer sign-in v1\x00"
COMPLETE_PATH = "/me/sign-in/complete"
SESSION_COOKIE = "performer_session"
COOKIE_PATH = "/me"
_MAX_TOKEN_CHARS = 100
# As staff sessions: recording every request would make every read a write.
_TOUCH_RESOLUTION = timedelta(seconds=30)


class SignInLinkInvalid(ValidationFailed):
    """A sign-in link that is unknown, used or expired: one answer for all three."""

    status, code = 410, "link_invalid"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def is_performer(session: Session, email: str) -> bool:
    """Whether any venue has a performer with this address (any case)."""
    query = select(Performer.id).where(func.lower(Performer.email) == normalise_email(email))
    return session.exec(query.limit(1)).first() is not None


def request_link(
    session: Session, settings: Settings, email: str, language: str, now: datetime
) -> str | None:
    """A sign-in link for a performer's address, mailed after the commit; None (and no
    mail) for any other address. The caller answers the same either way."""
    email = normalise_email(email)
    if "@" not in email or not is_performer(session, email):
        return None
    link_id = new_id("psl")
    token = links.token_for(settings, PURPOSE, link_id)
    session.add(
        PerformerSignInLink(
            id=link_id,
            email=email,
            token_hash=links.hash_token(token),
            language=language,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.performer_link_minutes),
        )
    )
    session.flush()
    emit(session, PerformerSignInRequested(link_id))
    return link_id


def link_url(settings: Settings, link: PerformerSignInLink) -> str | None:
    """The link to mail, the token in its fragment; None when no key derives it."""
    token = links.recover(settings, PURPOSE, link.id, link.token_hash)
    return None if token is None else links.link(settings, COMPLETE_PATH, token)


def is_open(link: PerformerSignInLink, now: datetime) -> bool:
    return link.used_at is None and now < link.expires_at


def use_link(session: Session, settings: Settings, token: str, now: datetime) -> str:
    """Use a sign-in link once: a new session for its address; the cookie's value."""
    row = None
    if token and len(token) <= _MAX_TOKEN_CHARS:
        query = select(PerformerSignInLink).where(
            PerformerSignInLink.token_hash == links.hash_token(token)
        )
        row = session.exec(query.with_for_update()).first()
    # A venue may have removed the performer since the link was mailed.
    if row is None or not is_open(row, now) or not is_performer(session, row.email):
        raise SignInLinkInvalid(
            "This link is unknown, used or expired; ask for a new one.",
            fields={"token": "unknown, used or expired"},
        )
    row.used_at = now
    session.add(row)
    return start_session(session, settings, row.email, now)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, settings: Settings, email: str, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        PerformerSession(
            id_hash=_hash(token),
            email=normalise_email(email),
            created_at=now,
            last_seen_at=now,
            idle_seconds=settings.performer_session_idle_minutes * 60,
            expires_at=now + timedelta(hours=settings.performer_session_absolute_hours),
        )
    )
    session.flush()
    return token


def current_session(session: Session, token: str | None, now: datetime) -> PerformerSession | None:
    """The live session of this cookie value; None when unknown, ended or timed out."""
    if not token or len(token) > _MAX_TOKEN_CHARS:
        return None
    row = session.get(PerformerSession, _hash(token))
    if row is None or row.ended_at is not None:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= timedelta(seconds=row.idle_seconds):
        return None
    if now - row.last_seen_at >= _TOUCH_RESOLUTION:
        row.last_seen_at = now
        session.add(row)
    return row


def end_session(session: Session, token: str | None, now: datetime) -> None:
    """Sign out: this browser's session ends (a session already over stays as it is)."""
    if not token or len(token) > _MAX_TOKEN_CHARS:
        return
    row = session.get(PerformerSession, _hash(token))
    if row is not None and row.ended_at is None:
        row.ended_at = now
        session.add(row)


def purge_spent(session: Session, now: datetime) -> int:
    """Delete the sign-in links and sessions that can no longer be used (expired,
    used, ended): each names a person's address, and nothing reads them again.
    Retention runs it (buyers/retention.py); rows deleted."""
    links_gone = session.execute(
        delete(PerformerSignInLink).where(
            or_(col(PerformerSignInLink.expires_at) <= now,
                col(PerformerSignInLink.used_at).is_not(None))
        )
    )  # fmt: skip
    sessions_gone = session.execute(
        delete(PerformerSession).where(
            or_(col(PerformerSession.expires_at) <= now,
                col(PerformerSession.ended_at).is_not(None),
                col(PerformerSession.last_seen_at)
                + func.make_interval(0, 0, 0, 0, 0, 0, col(PerformerSession.idle_seconds))
                <= now)
        )
    )  # fmt: skip
    return int(getattr(links_gone, "rowcount", 0) or 0) + int(
        getattr(sessions_gone, "rowcount", 0) or 0
    )
