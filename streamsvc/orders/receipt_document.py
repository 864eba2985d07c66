"""The buyer's receipt as a document: the order page's receipt (receipt.py) completed
with what a receipt states for the tax office: the venue and its VAT number, the date
paid, and the VAT per rate (net, VAT, gross), a bundle's parts each at its own rate
(catalog/bundles.py); the refunds made since, each with its date.

Served as a page and as a PDF from the one template
(templates/documents/receipt.html) by orders/pages.py, to the holder of the order
cookie only, exactly as the order page is. An order that was never paid has no receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from streamsvc.errors import NotFound
from streamsvc.orders.models import Order
from streamsvc.orders.receipt import BuyerOrder, buyer_order
from streamsvc.payments.models import Refund, RefundStatus
from streamsvc.venues.models import Venue
from streamsvc.web.documents import render_document

# Refunds that moved, or are moving, money back to the buyer (failed/cancelled ones did not).
SHOWN_REFUNDS = (RefundStatus.requested, RefundStatus.pending, RefundStatus.requires_action,
                 RefundStatus.succeeded)  # fmt: skip


@dataclass(frozen=True)
class RateTotal:
    rate_bps: int
    net: int
    vat: int
    gross: int


@dataclass(frozen=True)
class RefundLine:
    amount: int
    status: str
    created_at: datetime


@dataclass(frozen=True)
class Receipt:
    order: BuyerOrder
    venue_timezone: str
    vat_number: str | None
    paid_at: datetime
    rates: list[RateTotal]
    refunds: list[RefundLine]

    @property
    def refunded(self) -> int:
        return sum(refund.amount for refund in self.refunds)

    @property
    def net_paid(self) -> int:
        return self.order.paid_amount - self.refunded


def vat_per_rate(order: BuyerOrder) -> list[RateTotal]:
    """The order's lines by VAT rate, bundle parts each at theirs; rates ascending."""
    gross: dict[int, int] = {}
    vat: dict[int, int] = {}
    for line in order.lines:
        taxed = ([(p.amount, p.vat_rate_bps, p.vat_amount) for p in line.parts]
                 or [(line.amount, line.vat_rate_bps, line.vat_amount)])  # fmt: skip
        for amount, rate, within in taxed:
            gross[rate] = gross.get(rate, 0) + amount
            vat[rate] = vat.get(rate, 0) + within
    return [
        RateTotal(rate, gross[rate] - vat[rate], vat[rate], gross[rate]) for rate in sorted(gross)
    ]


def buyer_receipt(session: Session, order_id: str, order_token: str) -> Receipt:
    """The receipt for the holder of the order's token; 404 for a wrong token and for an
    order never paid (nothing was bought, so there is nothing to receipt)."""
    order = buyer_order(session, order_id, order_token)
    row = session.get(Order, order_id)
    assert row is not None
    if row.paid_at is None:
        raise NotFound("This order was not paid: it has no receipt.")
    venue = session.get(Venue, row.venue_id)
    assert venue is not None
    refunds = session.exec(
        select(Refund).where(Refund.order_id == order_id, col(Refund.status).in_(SHOWN_REFUNDS))
        .order_by(col(Refund.created_at), col(Refund.id))
    ).all()  # fmt: skip
    return Receipt(
        order=order, venue_timezone=venue.timezone, vat_number=venue.vat_number,
        paid_at=row.paid_at, rates=vat_per_rate(order),
        refunds=[RefundLine(r.amount, str(r.status), r.created_at) for r in refunds],
    )  # fmt: skip


def render_receipt(receipt: Receipt, lang: str) -> str:
    """The receipt's HTML in `lang` (one of nl, en, fr)."""
    return render_document("receipt.html", lang, {"receipt": receipt, "order": receipt.order})
