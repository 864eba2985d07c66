"""Viewers watching now across every event: what /metrics reports as
`streamsvc_viewers_watching` (streamsvc/ops/figures.py), read the way the console's
overview counts one event's (console/reading.py): a session counts from its redeem
until a token's lifetime and the clock-skew leeway after its last heartbeat, beyond
which its player cannot play without another heartbeat (one that ended or was refused
left at once, audience.py).

Only events whose viewing window is open can have such sessions: doors-open to the end
of the replay window (every tier's rewatch lies within it), closed at most that long
ago. PostgreSQL names them, then one pipelined ZCOUNT per event on its `live` set
(keys.py) counts; no key is scanned. Recordings keep no audience, so their plays are
not counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import literal_column
from sqlmodel import Session, col, select

from config.settings import Settings
from streamsvc.catalog.models import Event
from streamsvc.viewing.audience import EventAudience


def seen_within(settings: Settings) -> timedelta:
    """How long after its last heartbeat a session still counts as watching."""
    return timedelta(
        seconds=settings.viewing_token_ttl_seconds + settings.viewing_clock_skew_seconds
    )


def events_open_for_viewing(session: Session, now: datetime, within: timedelta) -> list[str]:
    """Events whose viewing window is open at `now`, or closed less than `within` ago.

    One pass over the events table (the window's ends are computed per row, so no index
    bounds them): a row per event ever scheduled, milliseconds at tens of thousands."""
    opens = col(Event.starts_at) - literal_column("interval '1 minute'") * col(
        Event.doors_open_minutes
    )
    closes = col(Event.ends_at) + literal_column("interval '1 hour'") * col(Event.replay_hours)
    query = select(Event.id).where(opens <= now, closes >= now - within).order_by(col(Event.id))
    return list(session.exec(query))


async def viewers_watching(
    audience: EventAudience, event_ids: Sequence[str], now: datetime, within: timedelta
) -> int:
    """Sessions of these events seen within `within` of `now`, all events together.
    DependencyUnavailable when Redis does not answer."""
    counts = await audience.watching_now(
        list(event_ids), int(now.timestamp() * 1000), int(within.total_seconds() * 1000)
    )
    return sum(counts.values())
