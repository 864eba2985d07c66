"""The buyer's order as the order page shows it: status, tickets and the receipt.

Authorised and read through views.public_order (the same view as
`GET /v1/public/orders/{order_id}`), then completed with what a person reads and
the JSON API leaves to its clients: the event, tier names, the receipt's lines
with their VAT, and how the order ended when it did not simply get paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from streamsvc.catalog.models import Event, Tier
from streamsvc.orders import views
from streamsvc.orders.buying import items_of
from streamsvc.orders.models import Order
from streamsvc.payments.models import Refund
from streamsvc.venues.models import Venue


@dataclass(frozen=True)
class ReceiptLine:
    tier_name: str
    quantity: int
    unit_amount: int  # VAT included, minor units
    amount: int
    vat_rate_bps: int
    vat_amount: int  # the VAT within `amount`


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


def vat_within(amount: int, rate_bps: int) -> int:
    """The VAT contained in a VAT-inclusive amount, rounded half up to a minor unit."""
    divisor = 10_000 + rate_bps
    return (2 * amount * rate_bps + divisor) // (2 * divisor)


def buyer_order(session: Session, order_id: str, order_token: str) -> BuyerOrder:
    """The order for the holder of its token; 404 (the same for a wrong token) otherwise."""
    public = views.public_order(session, order_id, order_token)
    order = session.get(Order, order_id)
    event = session.get(Event, public.event_id)
    assert order is not None and event is not None
    venue = session.get(Venue, order.venue_id)
    items = items_of(session, order.id)
    tier_ids = {item.tier_id for item in items}
    names = dict(session.exec(select(Tier.id, Tier.name).where(col(Tier.id).in_(tier_ids))).all())
    lines = [
        ReceiptLine(
            tier_name=names.get(item.tier_id, ""), quantity=item.quantity,
            unit_amount=item.unit_amount, amount=item.unit_amount * item.quantity,
            vat_rate_bps=item.vat_rate_bps,
            vat_amount=vat_within(item.unit_amount * item.quantity, item.vat_rate_bps),
        )
        for item in items
    ]  # fmt: skip
    origins = session.exec(select(Refund.origin).where(Refund.order_id == order.id)).all()
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
    )  # fmt: skip
