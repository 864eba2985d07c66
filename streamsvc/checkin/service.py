"""Admitting seat tickets at the door of a hybrid event.

THE CONTRACT
    admit(session, venue_id=, event_id=, code=, person_id=, now=) -> Verdict
        Looks the ticket up by its code (a secret: it arrives in a POST body only) and
        admits it to `event_id` once, or says why not, in this order:
          unknown        no ticket with this code at this venue (another venue's ticket
                         is unknown here too: nothing of it is shown)
          not_a_seat     a stream ticket: its tier is not `in_venue`
          another_event  a seat for another of the venue's events (its title is given)
          refunded       the order was refunded (or cancelled): the ticket is revoked
          revoked        revoked by staff, or suspended while the payment is disputed
          another_day    today (in the event's timezone) is not the event's day
          already_in     admitted before; `admitted_at` says when
        Admitting is one INSERT .. ON CONFLICT DO NOTHING on the ticket's primary key:
        of two doors scanning the same ticket at once, exactly one admits it and the
        other answers already_in (it waits for the first transaction, then sees its row).
        An admission is audited as `ticket.admitted`. Never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from streamsvc import audit
from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.catalog.models import Event, Tier
from streamsvc.checkin.models import Admission
from streamsvc.errors import NotFound
from streamsvc.orders.models import Order, OrderStatus, Ticket, TicketStatus

REFUSALS = (
    "unknown", "not_a_seat", "another_event", "refunded", "revoked", "another_day", "already_in",
)  # fmt: skip
_REFUNDED = frozenset({OrderStatus.refunded, OrderStatus.cancelled})
MAX_CODE = 40  # the column's length: a longer code is no ticket's


@dataclass(frozen=True)
class Verdict:
    admitted: bool
    reason: str | None = None  # one of REFUSALS when not admitted
    ticket_id: str | None = None
    tier_name: str | None = None
    event_title: str | None = None  # the ticket's own event (another_event names it)
    admitted_at: datetime | None = None  # now when admitted; the first time when already_in
    timezone: str = "UTC"


@dataclass(frozen=True)
class _Seen:
    """What a verdict on a known ticket shows of it."""

    ticket_id: str
    tier_name: str
    event_title: str
    timezone: str

    def verdict(self, reason: str | None, at: datetime | None = None) -> Verdict:
        return Verdict(admitted=reason is None, reason=reason, ticket_id=self.ticket_id,
                       tier_name=self.tier_name, event_title=self.event_title,
                       admitted_at=at, timezone=self.timezone)  # fmt: skip


def door_events(session: Session, venue_id: str) -> list[Event]:
    """The venue's hybrid events people can come to: published, not cancelled."""
    query = (
        select(Event)
        .where(
            Event.venue_id == venue_id,
            Event.attendance_mode == "hybrid",
            col(Event.status).in_([EventStatus.on_sale, EventStatus.live, EventStatus.ended]),
        )
        .order_by(col(Event.starts_at), col(Event.id))
    )
    return list(session.exec(query))


def door_event(session: Session, venue_id: str, event_id: str) -> Event:
    event = session.get(Event, event_id)
    if event is None or event.venue_id != venue_id or event.attendance_mode != "hybrid":
        raise NotFound("No such event.")
    return event


def todays_event(events: list[Event], now: datetime) -> Event | None:
    """The first event whose door day is today, else the next one, else the last."""
    upcoming = [e for e in events if e.ends_at >= now]
    for event in events:
        if _is_its_day(event, now):
            return event
    return upcoming[0] if upcoming else (events[-1] if events else None)


def _is_its_day(event: Event, now: datetime) -> bool:
    """Between the day doors open and the day it ends, in the event's own timezone."""
    zone = ZoneInfo(event.timezone)
    opens = (event.starts_at - timedelta(minutes=event.doors_open_minutes)).astimezone(zone)
    today = now.astimezone(zone).date()
    return opens.date() <= today <= event.ends_at.astimezone(zone).date()


def _why_not(ticket: Ticket, order: Order, event: Event, tier: Tier, event_id: str) -> str | None:
    if not tier.in_venue:
        return "not_a_seat"
    if ticket.event_id != event_id:
        return "another_event"
    if ticket.status == TicketStatus.revoked and order.status in _REFUNDED:
        return "refunded"
    if ticket.status != TicketStatus.valid:
        return "revoked"
    return None


def admit(
    session: Session, *, venue_id: str, event_id: str, code: str, person_id: str, now: datetime
) -> Verdict:
    """Admit the seat ticket with `code` to `event_id` once (module docstring)."""
    door = door_event(session, venue_id, event_id)
    ticket = session.exec(select(Ticket).where(Ticket.code == code[:MAX_CODE])).first()
    if ticket is None or ticket.venue_id != venue_id:
        return Verdict(admitted=False, reason="unknown", timezone=door.timezone)
    order, tier = session.get(Order, ticket.order_id), session.get(Tier, ticket.tier_id)
    event = session.get(Event, ticket.event_id)
    assert order is not None and tier is not None and event is not None
    seen = _Seen(ticket.id, tier.name, event.title, door.timezone)
    reason = _why_not(ticket, order, event, tier, door.id)
    if reason is None and not _is_its_day(door, now):
        reason = "another_day"
    if reason is not None:
        return seen.verdict(reason)
    inserted = session.execute(
        insert(Admission)
        .values(
            ticket_id=ticket.id,
            venue_id=venue_id,
            event_id=door.id,
            admitted_by=person_id,
            admitted_at=now,
        )
        .on_conflict_do_nothing(index_elements=["ticket_id"])
        .returning(col(Admission.ticket_id))
    ).first()
    if inserted is None:
        first = session.exec(select(Admission).where(Admission.ticket_id == ticket.id)).one()
        return seen.verdict("already_in", first.admitted_at)
    audit.record(
        session, venue_id=venue_id, action="ticket.admitted", object_type="ticket",
        object_id=ticket.id, changes={"event_id": door.id, "order_id": order.id},
    )  # fmt: skip
    return seen.verdict(None, now)
