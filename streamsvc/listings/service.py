"""The public catalogue: events on sale or live, across all venues."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, or_, select

from streamsvc.catalog.events import status_of
from streamsvc.catalog.lifecycle import EventStatus, status_condition
from streamsvc.catalog.models import Event, EventPerformer, Performer, Tier, rewatch_hours_granted
from streamsvc.catalog.schemas import PayWhatYouWantPublic
from streamsvc.catalog.tiers import available, tiers_of
from streamsvc.errors import NotFound
from streamsvc.kit.pagination import PageQuery, paginate
from streamsvc.listings.filters import CatalogueFilter
from streamsvc.listings.schemas import (
    AccessListing,
    EventListing,
    PerformerListing,
    TierListing,
    VenueListing,
)
from streamsvc.venues.models import Venue

# The feed and the listing show what can be bought or watched now.
LISTED = (EventStatus.on_sale, EventStatus.live)
# A draft is nobody's business; an ended or cancelled event keeps its page.
VISIBLE = (*LISTED, EventStatus.ended, EventStatus.cancelled)


def _listed(now: datetime, filters: CatalogueFilter | None) -> Any:
    """Events on sale or live of venues that are not suspended, narrowed by `filters`."""
    query = (
        select(Event)
        .join(Venue, col(Venue.id) == col(Event.venue_id))
        .where(or_(*(status_condition(s, now) for s in LISTED)), col(Venue.suspended_at).is_(None))
    )
    return filters.apply(query) if filters is not None else query


def list_events(
    session: Session,
    page: PageQuery,
    now: datetime,
    base_url: str,
    filters: CatalogueFilter | None = None,
) -> tuple[list[EventListing], str | None]:
    query = _listed(now, filters)
    rows, cursor = paginate(session, query, col(Event.starts_at), col(Event.id), page)
    return listings(session, rows, now, base_url), cursor


def upcoming(
    session: Session,
    now: datetime,
    base_url: str,
    limit: int = 500,
    filters: CatalogueFilter | None = None,
) -> list[EventListing]:
    """Listed events in start order, for the iCalendar feed and the catalogue page."""
    query = _listed(now, filters).order_by(col(Event.starts_at), col(Event.id)).limit(limit)
    return listings(session, list(session.exec(query)), now, base_url)


def get_event(session: Session, event_id: str, now: datetime, base_url: str) -> EventListing:
    event = session.get(Event, event_id)
    if event is None or status_of(event, now) not in VISIBLE:
        raise NotFound("No such event.")
    venue = session.get(Venue, event.venue_id)
    if venue is None or venue.suspended_at is not None:  # closed by the platform operator
        raise NotFound("No such event.")
    return listings(session, [event], now, base_url)[0]


def listings(
    session: Session, events: list[Event], now: datetime, base_url: str
) -> list[EventListing]:
    """Public views of these events, with a fixed number of queries whatever their count."""
    ids = [event.id for event in events]
    venues = {
        venue.id: venue
        for venue in session.exec(
            select(Venue).where(col(Venue.id).in_({event.venue_id for event in events}))
        )
    }
    performers: dict[str, list[PerformerListing]] = {}
    query = (
        select(EventPerformer.event_id, Performer)
        .join(Performer, col(Performer.id) == col(EventPerformer.performer_id))
        .where(col(EventPerformer.event_id).in_(ids))
        .order_by(col(EventPerformer.event_id), col(EventPerformer.position))
    )
    for event_id, performer in session.exec(query):
        performers.setdefault(event_id, []).append(
            PerformerListing(id=performer.id, name=performer.name)
        )
    tiers = tiers_of(session, ids)
    result = []
    for event in events:
        status = status_of(event, now)
        venue = venues[event.venue_id]
        listed = [_tier(t, event, status, now) for t in tiers.get(event.id, [])]
        result.append(
            EventListing(
                id=event.id,
                title=event.title,
                description=event.description,
                starts_at=event.starts_at,
                ends_at=event.ends_at,
                timezone=event.timezone,
                attendance_mode=event.attendance_mode,
                currency=event.currency,
                doors_open_minutes=event.doors_open_minutes,
                # What the best ticket grants, not a window no ticket opens.
                replay_hours=max((t.access.rewatch_hours for t in listed), default=0),
                allowed_countries=event.allowed_countries,
                status=status.value,
                url=f"{base_url}/v1/public/events/{event.id}",
                venue=VenueListing(
                    id=venue.id,
                    name=venue.name,
                    slug=venue.slug,
                    country=venue.country,
                    city=venue.city,
                ),
                performers=performers.get(event.id, []),
                tiers=listed,
                previous_starts_at=event.previous_starts_at,
                rescheduled_at=event.rescheduled_at,
            )
        )
    return result


def _tier(tier: Tier, event: Event, status: EventStatus, now: datetime) -> TierListing:
    left = available(tier)
    in_window = (tier.sales_start is None or tier.sales_start <= now) and (
        now < (tier.sales_end or event.ends_at)
    )
    return TierListing(
        id=tier.id,
        name=tier.name,
        price_amount=tier.price_amount,
        currency=event.currency,
        pay_what_you_want=(
            PayWhatYouWantPublic(
                min_amount=tier.pwyw_min_amount,
                suggested_amount=tier.pwyw_suggested_amount or tier.pwyw_min_amount,
            )
            if tier.pwyw_min_amount is not None
            else None
        ),
        capacity=tier.capacity,
        available=left,
        sold_out=left == 0,
        on_sale_now=status in LISTED and in_window and left != 0,
        sales_start=tier.sales_start or event.published_at,
        sales_end=tier.sales_end or event.ends_at,
        access=AccessListing(
            quality=tier.quality,
            extras=tier.extras,
            in_venue=tier.in_venue,
            rewatch_hours=rewatch_hours_granted(tier, event),
            max_devices=tier.max_devices,
        ),
    )


def filter_choices(session: Session) -> tuple[list[tuple[str, str]], list[str]]:
    """The catalogue filter's choices: (id, name) of the venues that are open, and the
    cities they are in, each sorted."""
    open_venues = list(session.exec(
        select(Venue).where(col(Venue.suspended_at).is_(None)).order_by(col(Venue.name))
    ))  # fmt: skip
    cities = sorted({v.city for v in open_venues if v.city}, key=str.lower)
    return [(v.id, v.name) for v in open_venues], cities
