"""What the watch page shows about one ticket before a session starts: the event, its
start and the ticket's viewing window, and whether the ticket still gives access.

The page holds the ticket's code (a bearer secret) in a cookie; the ticket id in its
URL is not a secret, so nothing is shown unless the code is that ticket's.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.catalog.models import Event, Tier, rewatch_hours_granted
from streamsvc.errors import NotFound
from streamsvc.orders.models import Ticket, TicketStatus
from streamsvc.viewing.access import window


@dataclass(frozen=True)
class WatchTicket:
    ticket_id: str
    event_id: str
    title: str
    tier_name: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    opens_at: datetime  # doors-open
    closes_at: datetime  # the end of the tier's rewatch window
    playback: str  # the event's playback origin URL ("" when not set yet)
    gives_access: bool  # valid ticket of an event that is not cancelled

    def phase(self, now: datetime) -> str:
        """ended (no access) | before (doors not open) | open | over (window closed)."""
        if not self.gives_access:
            return "ended"
        if now < self.opens_at:
            return "before"
        return "open" if now < self.closes_at else "over"


def watch_ticket(session: Session, ticket_id: str, code: str) -> WatchTicket:
    """The ticket `ticket_id`, if `code` is its code; 404 otherwise (no hint which)."""
    row = session.exec(
        select(Ticket, Tier, Event)
        .join(Tier, col(Tier.id) == col(Ticket.tier_id))
        .join(Event, col(Event.id) == col(Ticket.event_id))
        .where(col(Ticket.id) == ticket_id)
    ).first()
    if row is None or not hmac.compare_digest(row[0].code.encode(), code.encode()):
        raise NotFound("No such ticket.")
    ticket, tier, event = row
    opens, closes = window(event.starts_at, event.ends_at, event.doors_open_minutes,
                           rewatch_hours_granted(tier, event))  # fmt: skip
    return WatchTicket(
        ticket_id=ticket.id, event_id=event.id, title=event.title, tier_name=tier.name,
        starts_at=event.starts_at, ends_at=event.ends_at, timezone=event.timezone,
        opens_at=opens, closes_at=closes, playback=(event.playback or "").rstrip("/"),
        gives_access=ticket.status == TicketStatus.valid
        and event.status != EventStatus.cancelled,
    )  # fmt: skip
