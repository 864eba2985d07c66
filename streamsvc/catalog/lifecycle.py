"""The event lifecycle: draft → on_sale → live → ended, or cancelled.

`live` and `ended` follow the clock: an on-sale event is live from starts_at and
ended from ends_at. `effective_status` computes that for every read, and the beat
task persists the same answer, so both always agree.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import col


class EventStatus(StrEnum):
    draft = "draft"
    on_sale = "on_sale"
    live = "live"
    ended = "ended"
    cancelled = "cancelled"


# Transitions a venue admin may ask for (publish is draft → on_sale; cancelling
# refunds orders and has its own route).
MANUAL_TRANSITIONS: dict[EventStatus, set[EventStatus]] = {
    EventStatus.draft: {EventStatus.on_sale},
    EventStatus.on_sale: {EventStatus.live},  # start early
    EventStatus.live: {EventStatus.ended},  # end early
    EventStatus.ended: set(),
    EventStatus.cancelled: set(),
}


def effective_status(
    stored: str, starts_at: datetime, ends_at: datetime, now: datetime
) -> EventStatus:
    status = EventStatus(stored)
    if status in (EventStatus.on_sale, EventStatus.live) and now >= ends_at:
        return EventStatus.ended
    if status is EventStatus.on_sale and now >= starts_at:
        return EventStatus.live
    return status


def status_condition(status: EventStatus, now: datetime) -> ColumnElement[bool]:
    """SQL for "the effective status is `status` at `now`", matching effective_status."""
    from streamsvc.catalog.models import Event

    stored, starts, ends = col(Event.status), col(Event.starts_at), col(Event.ends_at)
    running = stored.in_([EventStatus.on_sale.value, EventStatus.live.value])
    if status is EventStatus.on_sale:
        return and_(stored == status.value, starts > now, ends > now)
    if status is EventStatus.live:
        return and_(running, ends > now, or_(stored == EventStatus.live.value, starts <= now))
    if status is EventStatus.ended:
        return or_(stored == status.value, and_(running, ends <= now))
    return stored == status.value
