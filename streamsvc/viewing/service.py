"""Redeeming tickets, renewing tokens and authorizing playback (of events, and of
recordings: a token of kind `recording` plays /vod/ paths; recordings/window.py).

PostgreSQL is asked when a session starts and at every heartbeat (is the ticket
still valid, is the window still open); Redis alone on every authorize request,
so the hot path never touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlmodel import Session, col

from config.settings import Settings
from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.catalog.models import Event, Tier, rewatch_hours_granted
from streamsvc.db_reads import ReadPool, ReadsUnavailable
from streamsvc.errors import (
    DependencyUnavailable,
    Forbidden,
    NotFound,
    ServiceError,
    Unauthenticated,
)
from streamsvc.orders.models import Order, Ticket, TicketStatus
from streamsvc.recordings import window as recording_window
from streamsvc.viewing.access import (
    qualities_for,
    recording_refusal,
    stream_refusal,
    uri_refusal,
    window,
)
from streamsvc.viewing.store import Slot, ViewingStore
from streamsvc.viewing.tokens import RECORDING, Claims, InvalidToken, TokenSigner

# Refusals that mean "get a new token" (401) rather than "you may not" (403).
UNAUTHENTICATED = frozenset({"missing_token", "invalid_token", "session_unknown"})


@dataclass(frozen=True)
class Admission:
    ticket_id: str
    event_id: str
    qualities: tuple[str, ...]
    extras: tuple[str, ...]
    max_devices: int
    policy: str
    playback: str
    closes_at: datetime
    tier_id: str
    # Where the viewer watches from (the CDN's country header), else the buyer's
    # country of the order: the audience report counts viewers by it.
    country: str | None


@dataclass(frozen=True)
class _Entitled:
    """What a redeem and a heartbeat read of a ticket: the columns of `_entitled`, in order."""

    ticket_id: str
    ticket_status: str
    tier_id: str
    quality: str
    extras: list[str]
    max_devices: int
    on_device_limit: str
    rewatch_hours: int
    event_id: str
    event_status: str
    starts_at: datetime
    ends_at: datetime
    doors_open_minutes: int
    replay_hours: int
    playback: str | None
    allowed_countries: list[str]
    order_country: str | None


# What a redeem and a heartbeat read of a ticket, its tier, event and order: only the
# columns access needs, in the order of `_Entitled`'s fields.
_ENTITLED_COLUMNS = (
    col(Ticket.id), col(Ticket.status), col(Tier.id), col(Tier.quality), col(Tier.extras),
    col(Tier.max_devices), col(Tier.on_device_limit), col(Tier.rewatch_hours), col(Event.id),
    col(Event.status), col(Event.starts_at), col(Event.ends_at),
    col(Event.doors_open_minutes), col(Event.replay_hours), col(Event.playback),
    col(Event.allowed_countries), col(Order.country),
)  # fmt: skip


def _entitled(by: Any) -> Select[*tuple[Any, ...]]:
    """The ticket found by `by` = :key, with its tier, event and order's country: one
    query (a redeem's only database read)."""
    return (
        select(*_ENTITLED_COLUMNS)
        .join(Tier, col(Tier.id) == col(Ticket.tier_id))
        .join(Event, col(Event.id) == col(Ticket.event_id))
        .join(Order, col(Order.id) == col(Ticket.order_id))
        .where(by == bindparam("key"))
    )


@cache
def _entitled_by_code_sql() -> str:
    """`_entitled` by code, as psycopg takes it (compiled once, on first use)."""
    return str(_entitled(col(Ticket.code)).compile(dialect=PGDialect_psycopg()))  # type: ignore[no-untyped-call]


def _load(session: Session, by: Any, key: str) -> _Entitled | None:
    row = session.execute(_entitled(by), {"key": key}).first()
    return None if row is None else _Entitled(*row)


def admit(
    session: Session, code: str, now: datetime, country: str | None, settings: Settings
) -> Admission:
    """May this ticket start watching now, from this country? 404 / 403 with a code."""
    return _admission(_load(session, col(Ticket.code), code), now, country, settings)


async def admit_code(
    reads: ReadPool, code: str, now: datetime, country: str | None, settings: Settings
) -> Admission:
    """`admit` from the event loop: the same read as one statement outside a transaction
    (db_reads.py); 503 with Retry-After when PostgreSQL does not answer."""
    try:
        row = await reads.fetch_one(_entitled_by_code_sql(), {"key": code})
    except ReadsUnavailable as exc:
        raise DependencyUnavailable("Viewing is briefly unavailable; try again shortly.",
                                    retry_after=5) from exc  # fmt: skip
    return _admission(None if row is None else _Entitled(*row), now, country, settings)


def _admission(
    found: _Entitled | None, now: datetime, country: str | None, settings: Settings
) -> Admission:
    if found is None:
        raise NotFound("No such ticket.")
    closes_at = _check(found, now)
    if found.allowed_countries:
        allowed = (
            country in found.allowed_countries if country else settings.missing_country == "allow"
        )
        if not allowed:
            raise Forbidden("This event is not shown in your country.", code="country_not_allowed")
    if country is None:  # (only where countries are not restricted, or missing ones allowed)
        country = found.order_country
    return Admission(
        ticket_id=found.ticket_id, event_id=found.event_id,
        qualities=qualities_for(found.quality), extras=tuple(found.extras),
        max_devices=found.max_devices, policy=found.on_device_limit,
        playback=(found.playback or "").rstrip("/"), closes_at=closes_at, tier_id=found.tier_id,
        country=country,
    )  # fmt: skip


async def joined(store: ViewingStore, admission: Admission, slot: Slot, now_ms: int) -> None:
    """A redeem gave `slot`: the event's audience counts the session (and the session it
    replaced leaves the count)."""
    await store.audience.joined(
        admission.event_id, slot.session_id, now_ms=now_ms, ticket_id=admission.ticket_id,
        tier_id=admission.tier_id, country=admission.country, replaced=slot.replaced,
    )  # fmt: skip


def still_admitted(session: Session, ticket_id: str, now: datetime) -> datetime:
    """The heartbeat's check against the truth; returns when the window closes."""
    found = _load(session, col(Ticket.id), ticket_id)
    if found is None:
        raise Forbidden("This ticket no longer exists.", code="revoked")
    return _check(found, now)


# A purchase's token is renewed for as long as it is asked for.
NEVER = datetime.max.replace(tzinfo=UTC)


def renewal_limit(session: Session, claims: Claims, now: datetime) -> datetime:
    """The heartbeat's check against the truth, for a ticket's session or a recording
    access's: when the renewed token must expire at the latest (403/410 if not at all)."""
    if claims.kind == RECORDING:
        playable = recording_window.still_playable(session, claims.ticket_id, now)
        return playable.ends_at or NEVER
    return still_admitted(session, claims.ticket_id, now)


def _check(found: _Entitled, now: datetime) -> datetime:
    if found.ticket_status != TicketStatus.valid or found.event_status == EventStatus.cancelled:
        raise Forbidden("This ticket no longer gives access.", code="revoked")
    # The catalogue's rule, from the two figures it reads (`found` holds both).
    rewatch = rewatch_hours_granted(found, found)
    opens, closes = window(found.starts_at, found.ends_at, found.doors_open_minutes, rewatch)
    if not opens <= now < closes:
        raise Forbidden(
            "This ticket plays from doors-open until the end of its rewatch window.",
            code="outside_window",
            details={"opens_at": opens.isoformat(), "closes_at": closes.isoformat()},
        )
    return closes


def verify(signer: TokenSigner, token: str | None, settings: Settings, now: datetime) -> Claims:
    if not token:
        raise Unauthenticated("Send the viewing token.", code="missing_token")
    try:
        return signer.verify(token, now.timestamp(), settings.viewing_clock_skew_seconds)
    except InvalidToken as exc:
        raise Unauthenticated(
            f"The viewing token is not valid: {exc}.", code="invalid_token"
        ) from exc


async def authorize(
    store: ViewingStore, signer: TokenSigner, settings: Settings, *, token: str | None,
    now: datetime, path: str | None = None, stream: tuple[str, str] | None = None,
) -> Claims:  # fmt: skip
    """Allow, or raise 401/403 with a code: token, then what it asks for, then one Redis
    round trip. It asks for a URI `path` (nginx, OvenMediaEngine) or an SRS
    `stream` (app, stream); with neither it is refused unless the setting
    `viewing_allow_token_only` trusts a media server that cannot say."""
    claims = verify(signer, token, settings, now)
    if claims.kind == RECORDING:
        refusal = _recording_refusal(claims, settings, path, stream)
    elif path is not None:
        refusal = uri_refusal(path, claims.event_id, claims.qualities, claims.extras)
    elif stream is not None:
        refusal = stream_refusal(*stream, claims.event_id, claims.qualities, claims.extras)
    else:
        refusal = None if settings.viewing_allow_token_only else "missing_uri"
    if refusal is not None:
        raise Forbidden(_REFUSALS[refusal], code=refusal)
    state = await store.session_state(claims.ticket_id, claims.session_id)
    refuse_state(state)
    return claims


def _recording_refusal(
    claims: Claims, settings: Settings, path: str | None, stream: tuple[str, str] | None
) -> str | None:
    """A recording plays from the origin's /vod/ paths only, never a live server's stream."""
    if path is not None:
        return recording_refusal(path, claims.event_id, claims.qualities)
    if stream is not None:
        return "not_a_stream_uri"
    return None if settings.viewing_allow_token_only else "missing_uri"


_REFUSALS = {
    "missing_uri": "Send the requested URI (X-Original-URI) with the token.",
    "not_a_stream_uri": "That URI is not one of the event's playlists or segments.",
    "wrong_event": "This token is not for that event.",
    "quality_not_in_tier": "This ticket's tier does not include that quality.",
    "extra_not_in_tier": "This ticket's tier does not include that extra.",
    "unknown_rendition": "That is not a rendition this event can have.",
    "wrong_recording": "This token is not for that recording.",
    "quality_not_available": "This recording does not play in that quality.",
}


def refuse_state(state: str) -> None:
    if state == "active":
        return
    if state == "unknown":
        raise Unauthenticated("The viewing session has ended; start a new one.",
                              code="session_unknown")  # fmt: skip
    if state == "replaced":
        raise Forbidden("Another device took this session's place.", code="session_replaced")
    raise Forbidden("This ticket no longer gives access.", code="revoked",
                    details={"state": state})  # fmt: skip


def status_of(error: ServiceError) -> int:
    return 401 if error.code in UNAUTHENTICATED else error.status
