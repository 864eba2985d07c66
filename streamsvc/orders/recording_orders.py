"""A recording's order as orders sees it: its access issued, its status kept, its page.

A recording's order (`Order.recording_id` and `recording_offer_id`, no event;
recordings/buying.py) is paid, refunded and disputed through the same paths as
tickets. What it grants is one row of `recording_access` (recordings/access.py),
written and read here with SQL on that table, as orders/pass_orders.py reads a
pass's: the recordings package imports orders, so orders cannot import it back
(tests/test_architecture.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session

from streamsvc.kit.ids import new_id
from streamsvc.orders.models import Order

_OFFER = text(
    "SELECT kind, start_within_days, watch_hours FROM recording_offers WHERE id = :offer_id"
)
# The unique order_id makes issuing idempotent: a redelivered payment issues nothing more.
_ISSUE = text(
    "INSERT INTO recording_access (id, code, recording_id, offer_id, order_id, venue_id, "
    "kind, status, start_by, watch_hours, created_at, updated_at) VALUES (:id, :code, "
    ":recording_id, :offer_id, :order_id, :venue_id, :kind, 'valid', :start_by, "
    ":watch_hours, :now, :now) ON CONFLICT (order_id) DO NOTHING RETURNING id"
)
_STATUS = text(
    "UPDATE recording_access SET status = :status, updated_at = :now "
    "WHERE order_id = :order_id AND status <> :status RETURNING id"
)
_BOUGHT = text(
    "SELECT r.title, r.id, o.kind, o.vat_rate_bps, o.start_within_days, o.watch_hours, "
    "a.id, a.code, a.status, a.start_by FROM recording_offers o "
    "JOIN recordings r ON r.id = o.recording_id "
    "LEFT JOIN recording_access a ON a.order_id = :order_id WHERE o.id = :offer_id"
)


@dataclass(frozen=True)
class RecordingOfOrder:
    """What the order page shows of the recording an order buys."""

    recording_id: str
    title: str
    kind: str  # rental | purchase | free
    vat_rate_bps: int
    start_within_days: int | None
    watch_hours: int | None
    access_id: str | None  # None until the order is paid
    code: str | None  # the buyer's secret: goes into the watch link's fragment only
    status: str | None  # valid | suspended | revoked
    start_by: datetime | None


def issue_access(session: Session, order: Order, code: str, now: datetime) -> str | None:
    """The order's access, once (a rental's deadline counted from `now`, when it was
    paid); its id, or None when it was issued before."""
    assert order.recording_id is not None and order.recording_offer_id is not None
    kind, days, hours = session.execute(_OFFER, {"offer_id": order.recording_offer_id}).one()
    found = session.execute(_ISSUE, {
        "id": new_id("rac"), "code": code, "recording_id": order.recording_id,
        "offer_id": order.recording_offer_id, "order_id": order.id, "venue_id": order.venue_id,
        "kind": kind, "start_by": now + timedelta(days=days) if days is not None else None,
        "watch_hours": hours, "now": now,
    }).scalar_one_or_none()  # fmt: skip
    return str(found) if found is not None else None


def set_access_status(
    session: Session, order_id: str, status: str, now: datetime
) -> dict[str, str]:
    """Give the order's access `status`; {access id: status} of what changed, if it did."""
    changed = session.execute(_STATUS, {"order_id": order_id, "status": status, "now": now})
    return {str(access_id): status for access_id in changed.scalars()}


def recording_of_order(session: Session, order: Order) -> RecordingOfOrder:
    """The recording and offer the order buys, with its access once issued."""
    assert order.recording_offer_id is not None
    row = session.execute(
        _BOUGHT, {"order_id": order.id, "offer_id": order.recording_offer_id}
    ).one()
    title, recording_id, kind, vat, days, hours, access_id, code, status, start_by = row
    return RecordingOfOrder(
        recording_id=str(recording_id), title=str(title), kind=str(kind), vat_rate_bps=int(vat),
        start_within_days=days, watch_hours=hours, access_id=access_id, code=code,
        status=status, start_by=start_by,
    )  # fmt: skip
