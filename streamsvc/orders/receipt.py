"""The buyer's order as the order page shows it: status, tickets and the receipt.

Authorised and read through views.public_order (the same view as
`GET /v1/public/orders/{order_id}`; a season pass's order through views.authorised_order
and orders/pass_orders.py, as its pass and one line), then completed with what a person reads and
the JSON API leaves to its clients: the event, tier names, the receipt's lines
with their VAT, and how the order ended when it did not simply get paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from streamsvc.catalog import bundles
from streamsvc.catalog.models import Event, Tier
from streamsvc.orders import rescheduling, views
from streamsvc.orders.buying import items_of
from streamsvc.orders.models import Order, OrderItem
from streamsvc.orders.pass_orders import PassOfOrder, pass_of_order
from streamsvc.orders.recording_orders import (
    IncludedOfOrder,
    RecordingOfOrder,
    included_of_order,
    recording_of_order,
)
from streamsvc.payments.models import Refund
from streamsvc.venues.models import Venue


@dataclass(frozen=True)
class ReceiptPart:
    """One component of a bundle line (catalog/bundles.py), taxed at its own rate."""

    label: str
    amount: int  # its part of the line, VAT included
    vat_rate_bps: int
    vat_amount: int


@dataclass(frozen=True)
class ReceiptLine:
    tier_name: str
    quantity: int
    unit_amount: int  # VAT included, minor units
    amount: int
    vat_rate_bps: int
    vat_amount: int  # the VAT within `amount` (a bundle's: the sum of its parts')
    parts: tuple[ReceiptPart, ...] = ()  # a bundle's components; empty: one rate


@dataclass(frozen=True)
class TicketView:
    id: str
    code: str  # the buyer's secret: goes into the watch link's fragment only
    tier_name: str
    status: str


@dataclass(frozen=True)
class BuyerOrder:
    id: str
    status: str
    total_amount: int
    currency: str
    paid_amount: int
    refunded_amount: int
    expires_at: datetime
    payment_error: str | None
    event_id: str
    event_title: str
    event_starts_at: datetime
    event_timezone: str
    venue_name: str
    lines: list[ReceiptLine]
    vat_amount: int
    tickets: list[TicketView]
    sold_out_after_expiry: bool  # paid too late, the seats gone: refunded by us
    # The event moved since the order was placed: the start it had, and while the
    # reschedule's refund period lasts, until when (and how much) the buyer may ask back.
    previous_starts_at: datetime | None = None
    refund_offer_until: datetime | None = None
    refund_offer_amount: int = 0
    # A season pass's order (orders/pass_orders.py): the pass instead of an event's
    # tickets. Then `event_id` is empty and `event_title` is the pass's name.
    season_pass: PassOfOrder | None = None
    # A recording's order (orders/recording_orders.py): its offer and, once paid, its
    # access. Then `event_id` is empty and `event_title` is the recording's title.
    recording: RecordingOfOrder | None = None
    # An event's order whose ticket's tier includes a recording: its access, once issued
    # after the event (recordings/included.py).
    included_recording: IncludedOfOrder | None = None


def vat_within(amount: int, rate_bps: int) -> int:
    """The VAT contained in a VAT-inclusive amount, rounded half up to a minor unit."""
    divisor = 10_000 + rate_bps
    return (2 * amount * rate_bps + divisor) // (2 * divisor)


def _line(item: OrderItem, tier_name: str) -> ReceiptLine:
    """An item as a receipt line; a bundle's VAT is its components' VAT, each at its rate."""
    amount = item.unit_amount * item.quantity
    split = bundles.parts(amount, item.vat_rate_bps, item.components)
    parts = tuple(
        ReceiptPart(str(component["label"]), part, rate, vat_within(part, rate))
        for component, (part, rate) in zip(item.components, split, strict=True)
    ) if item.components else ()  # fmt: skip
    return ReceiptLine(
        tier_name=tier_name, quantity=item.quantity, unit_amount=item.unit_amount, amount=amount,
        vat_rate_bps=item.vat_rate_bps,
        vat_amount=sum(p.vat_amount for p in parts) if parts else vat_within(amount,
                                                                             item.vat_rate_bps),
        parts=parts,
    )  # fmt: skip


def buyer_order(
    session: Session, order_id: str, order_token: str, now: datetime | None = None
) -> BuyerOrder:
    """The order for the holder of its token; 404 (the same for a wrong token) otherwise.
    With `now`, also the refund the buyer may ask for after a reschedule."""
    found = views.authorised_order(session, order_id, order_token)
    if found.pass_id is not None:
        return _pass_order(session, found, now)
    if found.recording_id is not None:
        return _recording_order(session, found)
    public = views.public_order(session, order_id, order_token)
    order = session.get(Order, order_id)
    event = session.get(Event, public.event_id)
    assert order is not None and event is not None
    venue = session.get(Venue, order.venue_id)
    items = items_of(session, order.id)
    tier_ids = {item.tier_id for item in items}
    names = dict(session.exec(select(Tier.id, Tier.name).where(col(Tier.id).in_(tier_ids))).all())
    lines = [_line(item, names.get(item.tier_id, "")) for item in items]
    origins = session.exec(select(Refund.origin).where(Refund.order_id == order.id)).all()
    offer = rescheduling.refund_offered_until(session, order, event, now) if now else None
    return BuyerOrder(
        id=order.id, status=public.status, total_amount=public.total_amount,
        currency=public.currency, paid_amount=order.paid_amount,
        refunded_amount=order.refunded_amount, expires_at=public.expires_at,
        payment_error=order.payment_error, event_id=event.id, event_title=event.title,
        event_starts_at=event.starts_at, event_timezone=event.timezone,
        venue_name=venue.name if venue else "", lines=lines,
        vat_amount=sum(line.vat_amount for line in lines),
        tickets=[TicketView(id=t.id, code=t.code, tier_name=names.get(t.tier_id, ""),
                            status=t.status) for t in public.tickets],
        sold_out_after_expiry="sold_out_after_expiry" in origins,
        previous_starts_at=event.previous_starts_at, refund_offer_until=offer,
        refund_offer_amount=rescheduling.refund_left(order) if offer else 0,
        included_recording=included_of_order(session, order.id, now or order.created_at),
    )  # fmt: skip


def _one_line(
    order: Order, venue: Venue | None, name: str, vat_rate_bps: int, *,
    starts_at: datetime, timezone: str, **extra: Any,
) -> BuyerOrder:  # fmt: skip
    """An order of one thing that is not an event's tickets (a pass, a recording): one
    line at its own VAT rate, and no tickets."""
    line = ReceiptLine(
        tier_name=name, quantity=1, unit_amount=order.total_amount, amount=order.total_amount,
        vat_rate_bps=vat_rate_bps, vat_amount=vat_within(order.total_amount, vat_rate_bps),
    )  # fmt: skip
    return BuyerOrder(
        id=order.id, status=order.status, total_amount=order.total_amount,
        currency=order.currency, paid_amount=order.paid_amount,
        refunded_amount=order.refunded_amount, expires_at=order.expires_at,
        payment_error=order.payment_error, event_id="", event_title=name,
        event_starts_at=starts_at, event_timezone=timezone,
        venue_name=venue.name if venue else "", lines=[line], vat_amount=line.vat_amount,
        tickets=[], **extra,
    )  # fmt: skip


def _pass_order(session: Session, order: Order, now: datetime | None) -> BuyerOrder:
    """A season pass's order: the holder claims tickets on the pass's page, whose link is
    mailed once it is paid."""
    bought = pass_of_order(session, order, now or order.created_at)
    venue = session.get(Venue, order.venue_id)
    first = bought.events[0] if bought.events else None
    return _one_line(
        order, venue, bought.name, bought.vat_rate_bps,
        starts_at=first.starts_at if first else order.created_at,
        timezone=first.timezone if first else (venue.timezone if venue else "UTC"),
        sold_out_after_expiry="sold_out_after_expiry" in session.exec(
            select(Refund.origin).where(Refund.order_id == order.id)).all(),
        season_pass=bought,
    )  # fmt: skip


def _recording_order(session: Session, order: Order) -> BuyerOrder:
    """A recording's order: its access (the watch link's id and code) once paid."""
    bought = recording_of_order(session, order)
    venue = session.get(Venue, order.venue_id)
    return _one_line(
        order, venue, bought.title, bought.vat_rate_bps, starts_at=order.created_at,
        timezone=venue.timezone if venue else "UTC", sold_out_after_expiry=False,
        recording=bought,
    )  # fmt: skip
