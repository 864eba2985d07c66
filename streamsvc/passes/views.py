"""What a pass's holder sees: the pass, the events it covers, and each one's claim."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from streamsvc.catalog.events import status_of
from streamsvc.catalog.models import Event
from streamsvc.db import UnitOfWork
from streamsvc.errors import NotFound
from streamsvc.orders.models import Order, Ticket
from streamsvc.passes import codes
from streamsvc.passes.claims import OPEN
from streamsvc.passes.models import (
    PassClaim,
    PassEvent,
    PassHolding,
    PassProduct,
    PassShare,
    PassTransfer,
)
from streamsvc.passes.recognition import IN_FORCE
from streamsvc.venues.models import Venue


@dataclass(frozen=True)
class CoveredEvent:
    event_id: str
    title: str
    starts_at: datetime
    timezone: str
    status: str  # the event's effective status
    refunded: bool  # its share went back to the holder (cancelled, or the pass refunded)
    ticket_id: str | None  # claimed: the ticket
    ticket_code: str | None
    ticket_status: str | None
    claimable: bool


@dataclass(frozen=True)
class HolderPass:
    holding_id: str
    name: str
    description: str
    venue_name: str
    order_status: str
    in_force: bool
    paid_amount: int
    currency: str
    max_claims: int | None
    claims: int
    events: list[CoveredEvent]
    transferable: bool = False  # the venue lets holders pass it on (passes/transfer.py)
    transfers: int = 0  # how many times it changed hands
    # A date-range pass: the dates whose events it covers (those on sale when it was
    # bought), in the venue's time zone; None for a series.
    covers_from: datetime | None = None
    covers_until: datetime | None = None
    timezone: str = "UTC"


def authorised(session: Session, holding_id: str, code: str) -> PassHolding:
    """The holding, if `code` is its code; the same 404 for an unknown pass or wrong code."""
    holding = session.get(PassHolding, holding_id)
    if holding is None or not codes.matches(code, holding.code_hash):
        raise NotFound("No such pass.")
    return holding


def holder_pass(uow: UnitOfWork, holding_id: str, code: str, now: datetime) -> HolderPass:
    session = uow.session
    holding = authorised(session, holding_id, code)
    product = session.get(PassProduct, holding.pass_id)
    order = session.get(Order, holding.order_id)
    venue = session.get(Venue, holding.venue_id)
    assert product is not None and order is not None and venue is not None
    in_force = order.status in IN_FORCE and order.paid_at is not None
    # A claim whose order names someone else is a previous holder's, left behind when
    # the pass was transferred (an event already over): counted, its ticket not shown.
    claims = {
        claim.event_id: (ticket, email == holding.email)
        for claim, ticket, email in session.exec(
            select(PassClaim, Ticket, Order.email)
            .join(Ticket, col(Ticket.id) == col(PassClaim.ticket_id))
            .join(Order, col(Order.id) == col(PassClaim.order_id))
            .where(PassClaim.holding_id == holding.id)
        )
    }
    refunded = {
        share.event_id
        for share in session.exec(select(PassShare).where(PassShare.holding_id == holding.id))
        if share.state == "refunded"
    }
    moment = order.paid_at or now
    rows = session.exec(
        select(Event)
        .join(PassEvent, col(PassEvent.event_id) == col(Event.id))
        .where(PassEvent.pass_id == product.id, col(PassEvent.added_at) <= moment)
        .order_by(col(Event.starts_at), col(Event.id))
    ).all()
    used_up = product.max_claims is not None and len(claims) >= product.max_claims
    events = []
    for event in rows:
        claimed, mine = claims.get(event.id, (None, False))
        ticket = claimed if mine else None
        status = status_of(event, now)
        events.append(
            CoveredEvent(
                event_id=event.id,
                title=event.title,
                starts_at=event.starts_at,
                timezone=event.timezone,
                status=status.value,
                refunded=event.id in refunded,
                ticket_id=ticket.id if ticket else None,
                ticket_code=ticket.code if ticket else None,
                ticket_status=ticket.status.value if ticket else None,
                claimable=in_force
                and claimed is None
                and not used_up
                and event.id not in refunded
                and status in OPEN,
            )
        )
    return HolderPass(
        holding_id=holding.id,
        name=product.name,
        description=product.description,
        venue_name=venue.name,
        order_status=order.status.value,
        in_force=in_force,
        paid_amount=order.paid_amount,
        currency=order.currency,
        max_claims=product.max_claims,
        claims=len(claims),
        events=events,
        transferable=product.transferable,
        covers_from=product.covers_from,
        covers_until=product.covers_until,
        timezone=venue.timezone,
        transfers=session.exec(
            select(func.count())
            .select_from(PassTransfer)
            .where(PassTransfer.holding_id == holding.id)
        ).one(),
    )
