"""A season pass as the audience sees it before buying: `/season-passes/{pass_id}`.

What it costs, what it covers (each event with its date), how many of them a holder
may attend, how many passes are left and whether it can be bought now. Only a
published pass of a venue that is not suspended is shown; any other id is a 404,
the same as an unknown one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from streamsvc.catalog.events import status_of
from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.errors import NotFound
from streamsvc.passes.buying import on_sale
from streamsvc.passes.models import PassProduct
from streamsvc.passes.products import covered_events
from streamsvc.venues.models import Venue


@dataclass(frozen=True)
class OfferedEvent:
    event_id: str
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    status: str  # the event's effective status (an ended one stays listed, marked)


@dataclass(frozen=True)
class PassOffer:
    pass_id: str
    name: str
    description: str
    venue_id: str
    venue_name: str
    venue_country: str
    price_amount: int  # VAT included
    vat_rate_bps: int
    currency: str
    max_claims: int | None  # how many of the events a holder may attend; None: all
    transferable: bool
    remaining: int | None  # passes left; None: no limit
    sales_start: datetime | None
    sales_end: datetime | None
    events: list[OfferedEvent]
    buyable: bool  # on sale now, with passes and events left
    # A date-range pass: the dates whose events it covers, in the venue's time zone
    # (passes/coverage.py); None for a series.
    covers_from: datetime | None = None
    covers_until: datetime | None = None
    timezone: str = "UTC"

    @property
    def upcoming(self) -> list[OfferedEvent]:
        return [e for e in self.events if e.status not in ("ended", "cancelled")]


def pass_offer(session: Session, pass_id: str, now: datetime) -> PassOffer:
    product = session.get(PassProduct, pass_id)
    if product is None or not product.published:
        raise NotFound("No such pass.")
    venue = session.get(Venue, product.venue_id)
    if venue is None or venue.suspended_at is not None:  # closed by the platform operator
        raise NotFound("No such pass.")
    events = [
        OfferedEvent(
            event.id,
            event.title,
            event.starts_at,
            event.ends_at,
            event.timezone,
            status_of(event, now).value,
        )
        for _, event in covered_events(session, product.id)
    ]
    remaining = (
        None if product.capacity is None
        else max(0, product.capacity - product.sold - product.held)
    )  # fmt: skip
    # What buying.buy_pass checks again, with the row locked: this only spares a buyer
    # a form that cannot succeed.
    left = any(
        e.ends_at > now and e.status != EventStatus.cancelled.value for e in events
    )  # fmt: skip
    return PassOffer(
        pass_id=product.id, name=product.name, description=product.description,
        venue_id=venue.id, venue_name=venue.name, venue_country=venue.country,
        price_amount=product.price_amount, vat_rate_bps=product.vat_rate_bps,
        currency=product.currency, max_claims=product.max_claims,
        transferable=product.transferable, remaining=remaining,
        sales_start=product.sales_start, sales_end=product.sales_end, events=events,
        buyable=on_sale(product, now) and left and remaining != 0,
        covers_from=product.covers_from, covers_until=product.covers_until,
        timezone=venue.timezone,
    )  # fmt: skip
