"""Events: create, change, publish, and the clock-driven lifecycle."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from streamsvc import audit
from streamsvc.catalog.lifecycle import (
    MANUAL_TRANSITIONS,
    EventStatus,
    effective_status,
    status_condition,
)
from streamsvc.catalog.models import Event, EventPerformer, Performer, SplitRule, Tier
from streamsvc.catalog.schemas import EventCreate, EventListQuery, EventPublic, EventUpdate
from streamsvc.errors import Conflict, ValidationFailed
from streamsvc.kit.ids import new_id
from streamsvc.kit.pagination import Page, paginate
from streamsvc.venues.models import Venue
from streamsvc.venues.tenancy import owned

_CLOSED = (EventStatus.ended, EventStatus.cancelled)
_REQUIRED = {"title", "starts_at", "ends_at", "timezone", "attendance_mode",
             "doors_open_minutes", "replay_hours"}  # fmt: skip


def status_of(event: Event, now: datetime) -> EventStatus:
    return effective_status(event.status, event.starts_at, event.ends_at, now)


def create_event(session: Session, venue_id: str, data: EventCreate, now: datetime) -> Event:
    venue = session.get(Venue, venue_id)
    assert venue is not None, "staff keys always belong to a venue"
    if data.ends_at <= data.starts_at:
        raise ValidationFailed("The event ends before it starts.",
                               fields={"ends_at": "must be after starts_at"})  # fmt: skip
    event = Event(
        id=new_id("evt"),
        venue_id=venue_id,
        title=data.title,
        description=data.description or "",
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        timezone=data.timezone,
        attendance_mode=data.attendance_mode,
        currency=data.currency or venue.currency,
        doors_open_minutes=data.doors_open_minutes,
        replay_hours=data.replay_hours,
        allowed_countries=sorted(set(data.allowed_countries or [])),
        playback=str(data.playback) if data.playback else None,
        uitdatabank_type=data.uitdatabank_type,
        status=EventStatus.draft.value,
        created_at=now,
        updated_at=now,
    )
    session.add(event)
    session.flush()
    _set_performers(session, event, data.performer_ids or [])
    return event


def update_event(
    session: Session, venue_id: str, event_id: str, data: EventUpdate, now: datetime
) -> Event:
    event = owned(session, Event, event_id, venue_id, lock=True)
    current = status_of(event, now)
    changes = data.model_dump(exclude_unset=True, exclude={"status", "performer_ids"})
    if changes and current in _CLOSED:
        raise Conflict(
            f"The event is {current.value} and can no longer be changed.",
            code="event_closed",
            details={"current_status": current.value},
        )
    _refuse_silent_move(session, event, current, changes)
    for name, given in changes.items():
        if given is None and name in _REQUIRED:
            raise ValidationFailed("This field cannot be cleared.", fields={name: "cannot be null"})
        value: object = given
        if name == "playback":
            value = str(given) if given is not None else None
        elif name == "allowed_countries":
            value = sorted(set(given or []))
        elif name == "description":
            value = given or ""
        setattr(event, name, value)
    if event.ends_at <= event.starts_at:
        raise ValidationFailed("The event ends before it starts.",
                               fields={"ends_at": "must be after starts_at"})  # fmt: skip
    if "attendance_mode" in changes and event.attendance_mode == "online":
        in_venue = session.exec(
            select(Tier.id).where(Tier.event_id == event.id, col(Tier.in_venue).is_(True))
        ).first()
        if in_venue:
            raise Conflict(
                "An online event cannot have in-venue tiers; remove them first.",
                code="in_venue_tiers_exist",
                fields={"attendance_mode": "the event has in-venue tiers"},
            )
    if data.performer_ids is not None:
        _set_performers(session, event, data.performer_ids)
    event.updated_at = now
    if data.status is not None and EventStatus(data.status) is not current:
        _transition(session, event, current, EventStatus(data.status), now)
    elif current is not EventStatus.draft:
        # A published event stays complete: every change is checked as publish would.
        _require_complete(session, event, now)
    session.add(event)
    return event


def _refuse_silent_move(
    session: Session, event: Event, current: EventStatus, changes: dict[str, object]
) -> None:
    """A published event with sales does not change its start here: its buyers must hear
    of the new time and may want their money back (orders/rescheduling.py does both)."""
    if (
        "starts_at" in changes
        and changes["starts_at"] != event.starts_at
        and current in (EventStatus.on_sale, EventStatus.live)
        and session.exec(select(Tier.id).where(Tier.event_id == event.id, Tier.sold > 0)).first()
    ):
        raise Conflict(
            "The event has sales: reschedule it (POST /v1/events/{id}/reschedule), so that "
            "its buyers are told.",
            code="reschedule_required",
            fields={"starts_at": "reschedule the event to change its start"},
        )


def publish(session: Session, venue_id: str, event_id: str, now: datetime) -> Event:
    event = owned(session, Event, event_id, venue_id, lock=True)
    _transition(session, event, status_of(event, now), EventStatus.on_sale, now)
    session.add(event)
    return event


def _transition(
    session: Session, event: Event, current: EventStatus, target: EventStatus, now: datetime
) -> None:
    if target not in MANUAL_TRANSITIONS[current]:
        raise Conflict(
            f"An event that is {current.value} cannot become {target.value}.",
            code="invalid_transition",
            details={"current_status": current.value},
        )
    if target is EventStatus.on_sale:
        _require_complete(session, event, now)
        event.published_at = now
    event.status = target.value
    event.updated_at = now
    # Publishing puts it on sale; starting or ending early opens or closes access.
    action = "event.published" if target is EventStatus.on_sale else "event.status_changed"
    audit.record(
        session, venue_id=event.venue_id, action=action, object_type="event",
        object_id=event.id, changes={"status": audit.change(current.value, target.value)},
    )  # fmt: skip


def completeness_problems(session: Session, event: Event, now: datetime) -> dict[str, str]:
    """Everything that stops the event from being sold, by field path, all at once."""
    problems: dict[str, str] = {}
    if not event.playback:
        problems["playback"] = "set the origin URL of the stream"
    if event.ends_at <= event.starts_at:
        problems["ends_at"] = "must be after starts_at"
    elif event.ends_at <= now:
        problems["ends_at"] = "the event has already ended"
    tiers = list(session.exec(select(Tier).where(Tier.event_id == event.id)))
    if not tiers:
        problems["tiers"] = "add at least one tier"
    for tier in tiers:
        problems.update(tier_window_problems(tier, event))
    if session.exec(select(SplitRule.id).where(SplitRule.event_id == event.id)).first() is None:
        problems["split_rule"] = "set a split rule"
    return problems


def tier_window_problems(tier: Tier, event: Event) -> dict[str, str]:
    """A tier's sales window must lie inside the event and not be empty."""
    problems: dict[str, str] = {}
    prefix = f"tiers[{tier.id}]"
    if tier.sales_end is not None and tier.sales_end > event.ends_at:
        problems[f"{prefix}.sales_end"] = "sales must end by the end of the event"
    if tier.sales_start is not None and tier.sales_start >= event.ends_at:
        problems[f"{prefix}.sales_start"] = "sales must start before the event ends"
    if tier.sales_start and tier.sales_end and tier.sales_start >= tier.sales_end:
        problems[f"{prefix}.sales_end"] = "must be after sales_start"
    if tier.in_venue and event.attendance_mode != "hybrid":
        problems[f"{prefix}.access.in_venue"] = "in-venue tiers need a hybrid event"
    return problems


def _require_complete(session: Session, event: Event, now: datetime) -> None:
    problems = completeness_problems(session, event, now)
    if problems:
        raise ValidationFailed(
            "The event is not complete: " + "; ".join(f"{k}: {v}" for k, v in problems.items()),
            code="event_incomplete",
            fields=problems,
        )


def _set_performers(session: Session, event: Event, performer_ids: list[str]) -> None:
    if len(set(performer_ids)) != len(performer_ids):
        raise ValidationFailed("A performer is listed twice.",
                               fields={"performer_ids": "duplicates"})  # fmt: skip
    known = set(
        session.exec(
            select(Performer.id).where(
                col(Performer.id).in_(performer_ids), Performer.venue_id == event.venue_id
            )
        )
    )
    unknown = {f"performer_ids[{i}]": "no such performer" for i, pid in enumerate(performer_ids)
               if pid not in known}  # fmt: skip
    if unknown:
        raise ValidationFailed("Unknown performers.", fields=unknown)
    for link in session.exec(select(EventPerformer).where(EventPerformer.event_id == event.id)):
        session.delete(link)
    session.flush()
    for position, performer_id in enumerate(performer_ids):
        session.add(EventPerformer(event_id=event.id, performer_id=performer_id, position=position))
    session.flush()


def performer_ids_of(session: Session, event_ids: Iterable[str]) -> dict[str, list[str]]:
    """Each event's performer ids in billing order, in one query."""
    found: dict[str, list[str]] = {}
    links = session.exec(
        select(EventPerformer)
        .where(col(EventPerformer.event_id).in_(list(event_ids)))
        .order_by(col(EventPerformer.event_id), col(EventPerformer.position))
    )
    for link in links:
        found.setdefault(link.event_id, []).append(link.performer_id)
    return found


def get_event(session: Session, venue_id: str, event_id: str) -> Event:
    return owned(session, Event, event_id, venue_id)


def list_events(
    session: Session, venue_id: str, query: EventListQuery, now: datetime
) -> Page[EventPublic]:
    statement = select(Event).where(Event.venue_id == venue_id)
    if query.status is not None:
        statement = statement.where(status_condition(EventStatus(query.status), now))
    rows, cursor = paginate(session, statement, col(Event.created_at), col(Event.id), query)
    performers = performer_ids_of(session, [row.id for row in rows])
    data = [public(row, performers.get(row.id, []), now) for row in rows]
    return Page[EventPublic](data=data, next_cursor=cursor)


def public(event: Event, performer_ids: list[str], now: datetime) -> EventPublic:
    return EventPublic.model_validate(
        {**event.model_dump(), "performer_ids": performer_ids, "status": status_of(event, now)}
    )


def advance_states(session: Session, now: datetime) -> int:
    """Persist what the clock says (on_sale → live → ended); returns the rows changed."""
    running = [EventStatus.on_sale.value, EventStatus.live.value]
    ended = session.execute(
        update(Event)
        .where(col(Event.status).in_(running), col(Event.ends_at) <= now)
        .values(status=EventStatus.ended.value, updated_at=now)
    )
    live = session.execute(
        update(Event)
        .where(col(Event.status) == EventStatus.on_sale.value, col(Event.starts_at) <= now)
        .values(status=EventStatus.live.value, updated_at=now)
    )
    return int(ended.rowcount or 0) + int(live.rowcount or 0)  # type: ignore[attr-defined]
