"""What the console's order pages need beyond views.py: names to show, a ticket found by
its code, one order's mail sent again, a refund made once per confirmation, and the
shape of the tickets' viewing sessions the page shows.

An order is of an event's tickets or of a recording (rental, purchase, free play); a
recording's is shown with its access (recording_orders.py reads it with SQL, since the
recordings package imports orders), in the venue's timezone, as it has no event's.

Everything is scoped to the caller's venue: another venue's order, ticket or event is
unknown here (404, or None), never forbidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlmodel import Session, col, select

from streamsvc import audit, idempotency
from streamsvc.catalog.models import Event, Tier
from streamsvc.db import emit
from streamsvc.errors import Conflict
from streamsvc.orders import recording_orders, refunds
from streamsvc.orders.models import Order, OrderStatus, Ticket
from streamsvc.orders.recording_orders import RecordingOfOrder
from streamsvc.orders.resend import mail_event
from streamsvc.orders.schemas import OrderOut, OrderSummary
from streamsvc.orders.views import staff_order
from streamsvc.venues.models import Venue
from streamsvc.venues.tenancy import owned

# Orders whose tickets still let their holder in: the only ones worth mailing again.
_WITH_TICKETS = (OrderStatus.paid, OrderStatus.partially_refunded)


@dataclass(frozen=True)
class LiveSession:
    """A viewing session of a ticket that still holds a device slot."""

    session_id: str
    device: str  # the id the player chose for its device
    started_at: datetime
    last_seen_at: datetime  # its last redeem or heartbeat


class TicketSessions(Protocol):
    """What the order page asks of viewing (streamsvc.viewing.store.ViewingStore, which
    imports orders, so orders names what it needs instead of importing it)."""

    async def ticket_sessions(
        self, ticket_ids: Sequence[str], now_ms: int
    ) -> dict[str, list[LiveSession]]:
        """Each ticket's live sessions; DependencyUnavailable when they cannot be read."""
        ...


@dataclass(frozen=True)
class OrderDetail:
    order: OrderOut
    event: Event | None  # None for a recording's order
    tier_names: dict[str, str]
    recording: RecordingOfOrder | None  # the recording and its access, for its order
    timezone: str  # the event's, else the venue's: the page shows every moment in it

    @property
    def holders(self) -> list[str]:
        """The ids viewing sessions are kept under: the tickets, or the recording's access."""
        if self.recording is not None:
            return [self.recording.access_id] if self.recording.access_id else []
        return [ticket.id for ticket in self.order.tickets]


def venue_timezone(session: Session, venue_id: str) -> str:
    venue = session.get(Venue, venue_id)
    assert venue is not None
    return venue.timezone


def venue_events(session: Session, venue_id: str) -> list[Event]:
    """The venue's events for the orders filter, newest first."""
    query = select(Event).where(Event.venue_id == venue_id)
    return list(session.exec(query.order_by(col(Event.starts_at).desc(), col(Event.id))))


def order_detail(session: Session, venue_id: str, order_id: str) -> OrderDetail:
    order = staff_order(session, venue_id, order_id)
    if order.event_id is None:  # a recording's: staff_order serves no other kind
        stored = session.get(Order, order.id)
        assert stored is not None
        return OrderDetail(order=order, event=None, tier_names={},
                           recording=recording_orders.recording_of_order(session, stored),
                           timezone=venue_timezone(session, venue_id))  # fmt: skip
    event = session.get(Event, order.event_id)
    assert event is not None
    tier_ids = {item.tier_id for item in order.items}
    tiers = session.exec(select(Tier.id, Tier.name).where(col(Tier.id).in_(sorted(tier_ids))))
    return OrderDetail(order=order, event=event, tier_names=dict(tiers.all()), recording=None,
                       timezone=event.timezone)  # fmt: skip


def recording_titles(
    session: Session, venue_id: str, orders: Sequence[OrderSummary]
) -> dict[str, str]:
    """The titles of the recordings the listed orders bought, by recording id."""
    ids = [order.recording_id for order in orders if order.recording_id]
    return recording_orders.recording_titles(session, venue_id, ids)


def order_of_ticket_code(session: Session, venue_id: str, code: str) -> str | None:
    """The order of the venue's ticket, or recording access, with this code (a secret:
    never from a URL)."""
    query = select(Ticket.order_id).where(Ticket.code == code[:40], Ticket.venue_id == venue_id)
    found = session.exec(query).first()
    return found or recording_orders.order_of_access_code(session, venue_id, code)


def order_exists(session: Session, venue_id: str, order_id: str) -> bool:
    query = select(Order.id).where(Order.id == order_id, Order.venue_id == venue_id)
    return session.exec(query).first() is not None


def resend_order(session: Session, venue_id: str, order_id: str, now: datetime) -> None:
    """Mail this order's tickets (a recording's: its watch link) again, through the
    mail's own path (resend.py): `tickets_mailed_at` cleared and TicketsIssued (or
    RecordingAccessIssued) raised, carried by the outbox."""
    order = owned(session, Order, order_id, venue_id, lock=True)
    if order.status not in _WITH_TICKETS:
        raise Conflict(f"An order that is {order.status} has no tickets to mail.",
                       code="no_tickets_to_mail")  # fmt: skip
    order.tickets_mailed_at, order.updated_at = None, now
    session.add(order)
    action = "order.access_resent" if order.recording_id else "order.tickets_resent"
    audit.record(session, venue_id=venue_id, action=action,
                 object_type="order", object_id=order.id)  # fmt: skip
    emit(session, mail_event(order))


def refund_once(
    session: Session,
    venue_id: str,
    order_id: str,
    *,
    amount: int,
    reason: str,
    key: str,
    now: datetime,
) -> bool:
    """Refund `amount` of the order under the confirmation's idempotency `key`: the
    first submission refunds; a repeated one (a double click, a reload) refunds nothing
    and answers False. A second submission waits for the first one's transaction (the
    key's row is inserted first), so two at once refund once too."""
    owned(session, Order, order_id, venue_id)  # 404 before a key is stored
    scope = f"console-refunds:{venue_id}:{order_id}"
    body = idempotency.request_hash({"amount": amount, "reason": reason})
    if idempotency.claim(session, scope, key, body, now) is not None:
        return False
    refund = refunds.request_refund(session, venue_id, order_id, amount=amount, reason=reason,
                                    origin="staff", now=now)  # fmt: skip
    idempotency.complete(session, scope, key, 303, {"refund_id": refund.id})
    return True
