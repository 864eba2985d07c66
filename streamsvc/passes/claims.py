"""Claiming an event with a pass: a ticket for it, at no charge, from the pass.

A claim is a free order of the event (what orders/fulfilment.issue_free settles),
for one ticket of the tier the pass names for that event: it takes a seat from that
tier's capacity where it has one, is refused when the tier is sold out, and its
ticket mails, watches, checks in and is revoked on cancellation like any other.
The holding's row is locked for the claim, so a holder's claims are counted one at
a time against the pass's limit; claiming an event again answers the same ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select

from config.settings import Settings
from streamsvc.catalog.coproducers import version_in_force
from streamsvc.catalog.events import status_of
from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.catalog.models import Event, Tier
from streamsvc.db import UnitOfWork
from streamsvc.errors import Conflict, NotFound
from streamsvc.kit.ids import new_id
from streamsvc.orders import capacity, fulfilment
from streamsvc.orders.buying import hash_token
from streamsvc.orders.links import order_token_for
from streamsvc.orders.models import CapacityState, Order, OrderItem, OrderStatus, Ticket
from streamsvc.passes.models import (
    PassClaim,
    PassEvent,
    PassHolding,
    PassProduct,
    PassShare,
    ShareState,
)
from streamsvc.passes.recognition import IN_FORCE

OPEN = (EventStatus.on_sale, EventStatus.live)


@dataclass(frozen=True)
class Claimed:
    claim_id: str
    event_id: str
    ticket_id: str
    ticket_code: str  # the ticket's bearer code: the holder's watch link carries it
    order_id: str
    new: bool  # False: claimed before, the same ticket


def claim(
    uow: UnitOfWork, settings: Settings, holding_id: str, event_id: str, now: datetime
) -> Claimed:
    """Claim `event_id` with the pass; 404 unknown, 409 pass_not_valid / not_covered /
    sales_closed / pass_used_up / sold_out."""
    session = uow.session
    holding = session.exec(
        select(PassHolding).where(PassHolding.id == holding_id).with_for_update()
    ).first()
    if holding is None:
        raise NotFound("No such pass.")
    earlier = session.exec(select(PassClaim, Ticket).join(
        Ticket, col(Ticket.id) == col(PassClaim.ticket_id)
    ).where(PassClaim.holding_id == holding.id,
            PassClaim.event_id == event_id)).first()  # fmt: skip
    if earlier is not None:
        found, ticket = earlier
        return Claimed(found.id, found.event_id, ticket.id, ticket.code, found.order_id, new=False)
    order = session.get(Order, holding.order_id)
    product = session.get(PassProduct, holding.pass_id)
    assert order is not None and product is not None
    if order.status not in IN_FORCE or order.paid_at is None:
        raise Conflict("This pass is not (or no longer) valid.", code="pass_not_valid")
    covered = session.get(PassEvent, (product.id, event_id))
    share = session.get(PassShare, (holding.id, event_id))
    if (
        covered is None
        or covered.added_at > order.paid_at
        or (share is not None and share.state == ShareState.refunded)
    ):
        raise Conflict("This pass does not cover that event.", code="not_covered")
    event = session.get(Event, event_id)
    assert event is not None
    if status_of(event, now) not in OPEN:
        raise Conflict("That event cannot be claimed now.", code="sales_closed",
                       details={"current_status": status_of(event, now).value})  # fmt: skip
    claims = session.exec(
        select(func.count()).select_from(PassClaim).where(PassClaim.holding_id == holding.id)
    ).one()
    if product.max_claims is not None and claims >= product.max_claims:
        raise Conflict(f"This pass has been used for {claims} events, its limit.",
                       code="pass_used_up")  # fmt: skip
    tier = session.get(Tier, covered.tier_id)
    assert tier is not None
    free = _free_order(uow, settings, holding, pass_order=order, event=event, tier=tier, now=now)
    ticket = session.exec(select(Ticket).where(Ticket.order_id == free.id)).one()
    found = PassClaim(id=new_id("clm"), holding_id=holding.id, event_id=event.id,
                      order_id=free.id, ticket_id=ticket.id, created_at=now)  # fmt: skip
    session.add(found)
    session.flush()
    return Claimed(found.id, event.id, ticket.id, ticket.code, free.id, new=True)


def _free_order(
    uow: UnitOfWork, settings: Settings, holding: PassHolding, *, pass_order: Order,
    event: Event, tier: Tier, now: datetime,
) -> Order:  # fmt: skip
    """The claim's order: one ticket of the pass's tier, at 0, settled at once."""
    session = uow.session
    version = version_in_force(session, event.id)  # catalog/coproducers.py
    order_id = new_id("ord")
    order = Order(
        id=order_id, venue_id=event.venue_id, event_id=event.id, email=holding.email,
        country=pass_order.country, locale=pass_order.locale, status=OrderStatus.pending,
        capacity=CapacityState.held, total_amount=0, currency=event.currency,
        token_hash=hash_token(order_token_for(settings, order_id)),
        split_rule_version=version or 1, expires_at=now + timedelta(minutes=1),
        created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(order)
    session.flush()
    session.add(OrderItem(id=new_id("oit"), order_id=order.id, tier_id=tier.id, quantity=1,
                          unit_amount=0, vat_rate_bps=tier.vat_rate_bps, position=0))  # fmt: skip
    session.flush()
    if not capacity.hold(session, tier.id, 1):
        raise Conflict("That event is sold out.", code="sold_out")
    fulfilment.issue_free(uow, order, now)
    return order


def claims_of(uow: UnitOfWork, holding_id: str) -> dict[str, Claimed]:
    """The holding's claims by event."""
    rows = uow.session.exec(select(PassClaim, Ticket).join(
        Ticket, col(Ticket.id) == col(PassClaim.ticket_id)
    ).where(PassClaim.holding_id == holding_id)).all()  # fmt: skip
    return {c.event_id: Claimed(c.id, c.event_id, t.id, t.code, c.order_id, new=False)
            for c, t in rows}  # fmt: skip
