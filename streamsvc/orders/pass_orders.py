"""What the buyer's order pages show of a season pass's order: the pass, its events.

A season pass's order (`Order.pass_id`, no event; passes/buying.py) is paid on the
same checkout page and followed on the same order page as tickets. The pass's rows
are read here with SQL on their tables, as orders/capacity.py counts the pass's
seats: the passes package imports orders, so orders cannot import it back
(tests/test_architecture.py). Only what a buyer reads is selected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

from streamsvc.orders.models import Order

_PASS = text("SELECT name, vat_rate_bps FROM season_passes WHERE id = :pass_id")
# The events the pass covers for this order: those in the series when it was paid
# (or, before payment, now): passes/models.py PassEvent.added_at.
_EVENTS = text(
    "SELECT e.id, e.title, e.starts_at, e.timezone FROM pass_events pe "
    "JOIN events e ON e.id = pe.event_id "
    "WHERE pe.pass_id = :pass_id AND pe.added_at <= :moment "
    "ORDER BY e.starts_at, e.id"
)
_MAILED = text("SELECT mailed_at FROM pass_holdings WHERE order_id = :order_id")


@dataclass(frozen=True)
class PassEventLine:
    event_id: str
    title: str
    starts_at: datetime
    timezone: str


@dataclass(frozen=True)
class PassOfOrder:
    pass_id: str
    name: str
    vat_rate_bps: int
    events: tuple[PassEventLine, ...]
    mailed: bool  # the pass's link went to the buyer


def pass_of_order(session: Session, order: Order, now: datetime) -> PassOfOrder:
    """The pass the order buys (an order with `pass_id`), as its buyer reads it."""
    assert order.pass_id is not None
    name, vat_rate_bps = session.execute(_PASS, {"pass_id": order.pass_id}).one()
    moment = order.paid_at or now
    rows = session.execute(_EVENTS, {"pass_id": order.pass_id, "moment": moment}).all()
    mailed_at = session.execute(_MAILED, {"order_id": order.id}).scalar_one_or_none()
    return PassOfOrder(
        pass_id=order.pass_id,
        name=str(name),
        vat_rate_bps=int(vat_rate_bps),
        events=tuple(PassEventLine(str(r[0]), str(r[1]), r[2], str(r[3])) for r in rows),
        mailed=mailed_at is not None,
    )
