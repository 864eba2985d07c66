"""An event's audience report: what Redis recorded as it went (audience.py), copied into
PostgreSQL after the event so that it outlives Redis's TTLs, and the figures the
console shows of it.

The copy is idempotent and monotone: each figure is stored as the larger of what the
table holds and what Redis holds, so it may run any number of times, during the replay
window too, and a copy made before Redis lost its keys is never shrunk by one after.
Reads never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, literal_column
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from streamsvc.catalog.models import Event
from streamsvc.kit.redis_clients import SyncRedis
from streamsvc.viewing.audience import MINUTE_MS, AudienceBuckets, read_buckets
from streamsvc.viewing.models import AudienceCount, AudienceMinute

# Events are copied from their end until this long after their replay window closed;
# Redis keeps the figures keys.AUDIENCE_TTL_SECONDS (a week) after their last write.
COPY_GRACE_HOURS = 48
_BATCH = 1000  # rows per INSERT


def events_to_copy(session: Session, now: datetime) -> list[str]:
    """Events that ended and whose replay window closed at most COPY_GRACE_HOURS ago."""
    closes = col(Event.ends_at) + literal_column("interval '1 hour'") * col(Event.replay_hours)
    query = select(Event.id).where(
        col(Event.ends_at) <= now, closes >= now - timedelta(hours=COPY_GRACE_HOURS)
    )
    return list(session.exec(query.order_by(col(Event.ends_at), col(Event.id))))


def copy_audience(session: Session, client: SyncRedis, event_id: str) -> int:
    """Copy what Redis holds of the event's audience into PostgreSQL; the rows written."""
    return store_buckets(session, event_id, read_buckets(client, event_id))


def store_buckets(session: Session, event_id: str, buckets: AudienceBuckets) -> int:
    sessions, watched = buckets.sessions, buckets.watched_ms
    minutes = [
        {"event_id": event_id, "minute": _minute_at(minute),
         "sessions": sessions.get(minute, 0), "watched_ms": watched.get(minute, 0)}
        for minute in sorted(sessions.keys() | watched.keys())
    ]  # fmt: skip
    counts = [
        {"event_id": event_id, "dimension": dimension, "value": value[:32], "viewers": n}
        for dimension, by in (("tier", buckets.by_tier), ("country", buckets.by_country))
        for value, n in sorted(by.items())
    ]  # fmt: skip
    for start in range(0, len(minutes), _BATCH):
        rows = insert(AudienceMinute).values(minutes[start : start + _BATCH])
        session.execute(rows.on_conflict_do_update(
            index_elements=["event_id", "minute"],
            set_={"sessions": func.greatest(AudienceMinute.sessions, rows.excluded.sessions),
                  "watched_ms": func.greatest(AudienceMinute.watched_ms, rows.excluded.watched_ms)},
        ))  # fmt: skip
    for start in range(0, len(counts), _BATCH):
        rows = insert(AudienceCount).values(counts[start : start + _BATCH])
        session.execute(rows.on_conflict_do_update(
            index_elements=["event_id", "dimension", "value"],
            set_={"viewers": func.greatest(AudienceCount.viewers, rows.excluded.viewers)},
        ))  # fmt: skip
    return len(minutes) + len(counts)


def stored_buckets(session: Session, event_id: str) -> AudienceBuckets:
    """What the copies put into PostgreSQL."""
    found = AudienceBuckets()
    for row in session.exec(select(AudienceMinute).where(AudienceMinute.event_id == event_id)):
        minute = _minute_of(row.minute)
        found.sessions[minute], found.watched_ms[minute] = row.sessions, row.watched_ms
    for count in session.exec(select(AudienceCount).where(AudienceCount.event_id == event_id)):
        target = found.by_tier if count.dimension == "tier" else found.by_country
        target[count.value] = count.viewers
    return found


@dataclass(frozen=True)
class AudienceReport:
    viewers: int  # tickets that played
    peak: int  # sessions playing in the busiest minute
    peak_at: datetime | None  # the start of that minute (the first, on a tie)
    viewing_minutes: int  # all sessions' watching, rounded to the minute
    by_tier: list[tuple[str, int]]  # (tier id, tickets), most first
    by_country: list[tuple[str, int]]  # (country code or "--", tickets), most first
    # (minute, sessions playing in it) over the stream: doors-open until its end.
    over_the_stream: list[tuple[datetime, int]]


def report(
    buckets: AudienceBuckets, stream_opens: datetime, stream_ends: datetime
) -> AudienceReport:
    """The figures of an event's audience from what was recorded of it."""
    peak, peak_minute = 0, None
    for minute in sorted(buckets.sessions):
        if buckets.sessions[minute] > peak:
            peak, peak_minute = buckets.sessions[minute], minute
    first, last = _minute_of(stream_opens), _minute_of(stream_ends - timedelta(microseconds=1))
    return AudienceReport(
        viewers=sum(buckets.by_tier.values()),
        peak=peak,
        peak_at=_minute_at(peak_minute) if peak_minute is not None else None,
        viewing_minutes=round(sum(buckets.watched_ms.values()) / MINUTE_MS),
        by_tier=_most_first(buckets.by_tier),
        by_country=_most_first(buckets.by_country),
        over_the_stream=[(_minute_at(m), buckets.sessions.get(m, 0))
                         for m in range(first, last + 1)],
    )  # fmt: skip


def _most_first(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(((k, n) for k, n in counts.items() if n > 0), key=lambda kn: (-kn[1], kn[0]))


def _minute_of(moment: datetime) -> int:
    return int(moment.timestamp() // 60)


def _minute_at(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, UTC)
