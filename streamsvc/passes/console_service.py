"""What the console's pass pages read around passes/products.py: the venue's passes
with their sales, the events that may join a series, and the holders with their claims.

Every read is of the caller's venue (`venue_id`); another venue's pass is a 404
(venues/tenancy.py `owned`), the same as an unknown one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from streamsvc.catalog.events import status_of
from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.catalog.models import Event, Tier
from streamsvc.kit.pagination import PageQuery, paginate
from streamsvc.orders.models import Order, Ticket
from streamsvc.passes import products
from streamsvc.passes.models import PassClaim, PassEvent, PassHolding, PassProduct, PassTransfer
from streamsvc.venues.tenancy import owned

HOLDERS_PER_PAGE = 50


@dataclass(frozen=True)
class PassRow:
    product: PassProduct
    events: int
    remaining: int | None  # None: no limit


@dataclass(frozen=True)
class SeriesEvent:
    """A covered event, with the tier its holders take and when it joined the series."""

    event: Event
    status: str
    tier_name: str
    added_at: datetime


@dataclass(frozen=True)
class Candidate:
    """An event that may join the series, with the tiers a holder could take."""

    event: Event
    tiers: list[Tier]


@dataclass(frozen=True)
class ClaimLine:
    event_title: str
    ticket_status: str
    claimed_at: datetime


@dataclass(frozen=True)
class HolderRow:
    holding_id: str
    order_id: str
    email: str
    order_status: str
    paid_at: datetime | None
    claims: list[ClaimLine]
    transfers: int = 0  # how many times the pass changed hands (passes/transfer.py)
    last_transferred_at: datetime | None = None


def remaining(product: PassProduct) -> int | None:
    if product.capacity is None:
        return None
    return max(0, product.capacity - product.sold - product.held)


def pass_rows(session: Session, venue_id: str) -> list[PassRow]:
    counts = dict(
        session.exec(
            select(PassEvent.pass_id, func.count())
            .join(PassProduct, col(PassProduct.id) == col(PassEvent.pass_id))
            .where(PassProduct.venue_id == venue_id)
            .group_by(col(PassEvent.pass_id))
        ).all()
    )
    return [
        PassRow(product, int(counts.get(product.id, 0)), remaining(product))
        for product in products.venue_passes(session, venue_id)
    ]


def series(session: Session, venue_id: str, pass_id: str, now: datetime) -> list[SeriesEvent]:
    owned(session, PassProduct, pass_id, venue_id)
    covered = products.covered_events(session, pass_id)
    tier_ids = {pe.tier_id for pe, _ in covered}
    names = dict(session.exec(select(Tier.id, Tier.name).where(col(Tier.id).in_(tier_ids))).all())
    return [
        SeriesEvent(event, status_of(event, now).value, names.get(pe.tier_id, ""), pe.added_at)
        for pe, event in covered
    ]


def candidates(session: Session, venue_id: str, pass_id: str, now: datetime) -> list[Candidate]:
    """The venue's events in the pass's currency, not ended or cancelled and not in the
    series yet, each with its tiers (products.add_event checks all of this again)."""
    product = owned(session, PassProduct, pass_id, venue_id)
    inside = {pe.event_id for pe, _ in products.covered_events(session, pass_id)}
    events = [
        event
        for event in session.exec(
            select(Event)
            .where(Event.venue_id == venue_id, Event.currency == product.currency)
            .order_by(col(Event.starts_at), col(Event.id))
        )
        if event.id not in inside
        and status_of(event, now) not in (EventStatus.cancelled, EventStatus.ended)
    ][: products.MAX_EVENTS]
    tiers: dict[str, list[Tier]] = {}
    for tier in session.exec(
        select(Tier)
        .where(col(Tier.event_id).in_([e.id for e in events]))
        .order_by(col(Tier.event_id), col(Tier.id))
    ):
        tiers.setdefault(tier.event_id, []).append(tier)
    return [Candidate(event, tiers[event.id]) for event in events if event.id in tiers]


def add_by_tier(
    session: Session, venue_id: str, pass_id: str, tier_id: str, now: datetime
) -> PassEvent:
    """Put the event of `tier_id` (a tier of this venue) in the series, holders taking it."""
    tier = owned(session, Tier, tier_id, venue_id)
    return products.add_event(session, venue_id, pass_id, tier.event_id, tier_id=tier.id, now=now)


def holders(
    session: Session, venue_id: str, pass_id: str, cursor: str | None
) -> tuple[list[HolderRow], str | None]:
    """The pass's holders (orders paid at some time), oldest first, with their claims."""
    owned(session, PassProduct, pass_id, venue_id)
    query = (
        select(PassHolding)
        .join(Order, col(Order.id) == col(PassHolding.order_id))
        .where(PassHolding.pass_id == pass_id, PassHolding.venue_id == venue_id)
        .where(col(Order.paid_at).is_not(None))
    )
    page = PageQuery(limit=HOLDERS_PER_PAGE, cursor=cursor)
    rows, next_cursor = paginate(
        session, query, col(PassHolding.created_at), col(PassHolding.id), page
    )
    ids = [holding.id for holding in rows]
    orders = {
        order.id: order
        for order in session.exec(
            select(Order).where(col(Order.id).in_([holding.order_id for holding in rows]))
        )
    }
    claims: dict[str, list[ClaimLine]] = {}
    for claim, title, ticket_status in session.exec(
        select(PassClaim, Event.title, Ticket.status)
        .join(Event, col(Event.id) == col(PassClaim.event_id))
        .join(Ticket, col(Ticket.id) == col(PassClaim.ticket_id))
        .where(col(PassClaim.holding_id).in_(ids))
        .order_by(col(Event.starts_at), col(Event.id))
    ):
        claims.setdefault(claim.holding_id, []).append(
            ClaimLine(title, str(ticket_status), claim.created_at)
        )
    transfers = {
        holding_id: (int(count), last)
        for holding_id, count, last in session.exec(
            select(PassTransfer.holding_id, func.count(), func.max(PassTransfer.created_at))
            .where(col(PassTransfer.holding_id).in_(ids))
            .group_by(col(PassTransfer.holding_id))
        )
    }
    found = []
    for holding in rows:
        order = orders[holding.order_id]
        count, last = transfers.get(holding.id, (0, None))
        row = HolderRow(
            holding_id=holding.id, order_id=holding.order_id, email=holding.email,
            order_status=str(order.status), paid_at=order.paid_at,
            claims=claims.get(holding.id, []), transfers=count, last_transferred_at=last,
        )  # fmt: skip
        found.append(row)
    return found, next_cursor
