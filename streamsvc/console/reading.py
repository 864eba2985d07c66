"""What the console shows, read in a few queries: sales per event and per day, what
cancelling an event would refund, who watches now and an event's audience report.
Reads only; never commits. Viewing figures come through the viewing module's own
functions: the console never touches Redis keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from config.settings import Settings
from streamsvc.catalog import tiers as catalog_tiers
from streamsvc.catalog.events import status_of
from streamsvc.catalog.models import Event, Tier
from streamsvc.errors import DependencyUnavailable
from streamsvc.orders.models import Order
from streamsvc.orders.state import DISPUTED
from streamsvc.venues.tenancy import owned
from streamsvc.viewing import report as audience_report
from streamsvc.viewing.access import window
from streamsvc.viewing.audience import AudienceBuckets, EventAudience

DAYS = 30


@dataclass(frozen=True)
class EventSales:
    event: Event
    status: str
    tiers: list[Tier]
    gross: int  # what buyers paid so far, refunds not deducted
    refunded: int


@dataclass(frozen=True)
class DaySales:
    day: date
    orders: int
    gross: int


def event_sales(
    session: Session, venue_id: str, now: datetime, limit: int = 100
) -> list[EventSales]:
    """The venue's latest events, their tiers (sold against capacity) and money taken."""
    found = list(session.exec(
        select(Event).where(Event.venue_id == venue_id)
        .order_by(col(Event.starts_at).desc(), col(Event.id)).limit(limit)
    ))  # fmt: skip
    ids = [event.id for event in found]
    money = {
        event_id: (int(gross or 0), int(refunded or 0))
        for event_id, gross, refunded in session.exec(
            select(Order.event_id, func.sum(Order.paid_amount), func.sum(Order.refunded_amount))
            .where(col(Order.event_id).in_(ids), col(Order.paid_at).is_not(None))
            .group_by(col(Order.event_id))
        )
    }
    by_event = catalog_tiers.tiers_of(session, ids)
    return [
        EventSales(event, status_of(event, now).value, by_event.get(event.id, []),
                   *money.get(event.id, (0, 0)))
        for event in found
    ]  # fmt: skip


def sales_per_day(
    session: Session, venue_id: str, timezone: str, now: datetime, days: int = DAYS
) -> list[DaySales]:
    """Paid orders and their amounts per day of the venue's calendar, the last `days`
    days up to today, a row for every day (0 where nothing sold)."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    first = today - timedelta(days=days - 1)
    day = func.date(func.timezone(timezone, col(Order.paid_at)))
    rows = session.exec(
        select(day, func.count(), func.sum(Order.paid_amount))
        .where(Order.venue_id == venue_id, col(Order.paid_at).is_not(None),
               col(Order.paid_at) >= now - timedelta(days=days + 1))
        .group_by(day)
    )  # fmt: skip
    counts = {found: (int(n), int(total or 0)) for found, n, total in rows}
    return [
        DaySales(first + timedelta(days=i), *counts.get(first + timedelta(days=i), (0, 0)))
        for i in range(days)
    ]


@dataclass(frozen=True)
class CancellationSummary:
    event: Event
    status: str
    paid_orders: int  # orders that will be refunded
    refund_total: int  # what they are owed, in the event's currency


def cancellation_summary(
    session: Session, venue_id: str, event_id: str, now: datetime
) -> CancellationSummary:
    """What cancelling would refund: as the cancellation job decides, every order with
    money paid and not returned, unless a dispute holds it (orders/cancellation.py)."""
    event = owned(session, Event, event_id, venue_id)
    owed = col(Order.paid_amount) - col(Order.refunded_amount)
    count, total = session.exec(
        select(func.count(), func.sum(owed)).where(
            Order.event_id == event.id, owed > 0,
            col(Order.dispute_status).is_(None) | col(Order.dispute_status).not_in(list(DISPUTED)),
        )
    ).one()  # fmt: skip
    return CancellationSummary(event, status_of(event, now).value, int(count), int(total or 0))


# -- viewing: who watches now, and an event's audience -------------------------------------


async def viewers_now(
    audience: EventAudience, event_ids: list[str], now: datetime, settings: Settings
) -> dict[str, int] | None:
    """Sessions of each event that could be playing now (seen within a token's lifetime:
    a player that stopped leaves the count by then, one that ended at once); None when
    Redis does not answer, so the page says "not known" instead of failing."""
    seen_within = settings.viewing_token_ttl_seconds + settings.viewing_clock_skew_seconds
    try:
        return await audience.watching_now(
            event_ids, int(now.timestamp() * 1000), seen_within * 1000
        )
    except DependencyUnavailable:
        return None


@dataclass(frozen=True)
class EventAudienceStored:
    """What PostgreSQL holds of an event's audience, with the names to show it by."""

    event: Event
    status: str
    tier_names: dict[str, str]
    stored: AudienceBuckets


def stored_audience(
    session: Session, venue_id: str, event_id: str, now: datetime
) -> EventAudienceStored:
    event = owned(session, Event, event_id, venue_id)  # another venue's: 404
    tiers = catalog_tiers.tiers_of(session, [event.id]).get(event.id, [])
    return EventAudienceStored(event, status_of(event, now).value,
                               {tier.id: tier.name for tier in tiers},
                               audience_report.stored_buckets(session, event.id))  # fmt: skip


async def live_audience(audience: EventAudience, event_id: str) -> AudienceBuckets | None:
    """What Redis still holds of it; None when Redis does not answer."""
    try:
        return await audience.buckets(event_id)
    except DependencyUnavailable:
        return None


def audience_figures(
    found: EventAudienceStored, live: AudienceBuckets | None
) -> audience_report.AudienceReport:
    """The report over both: the copy and what Redis holds since (the larger of each)."""
    event = found.event
    opens, _ = window(event.starts_at, event.ends_at, event.doors_open_minutes, 0)
    buckets = found.stored.merged(live) if live is not None else found.stored
    return audience_report.report(buckets, opens, event.ends_at)
