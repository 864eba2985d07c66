"""A recording's order as orders sees it: its access issued, its status kept, its page.

A recording's order (`Order.recording_id` and `recording_offer_id`, no event;
recordings/buying.py) is paid, refunded and disputed through the same paths as
tickets. What it grants is one row of `recording_access` (recordings/access.py),
written and read here with SQL on that table, as orders/pass_orders.py reads a
pass's: the recordings package imports orders, so orders cannot import it back
(tests/test_architecture.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, text
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
    "a.id, a.code, a.status, a.start_by, a.started_at, a.ends_at FROM recording_offers o "
    "JOIN recordings r ON r.id = o.recording_id "
    "LEFT JOIN recording_access a ON a.order_id = :order_id WHERE o.id = :offer_id"
)
_TITLES = text(
    "SELECT id, title FROM recordings WHERE venue_id = :venue_id AND id IN :ids"
).bindparams(bindparam("ids", expanding=True))
_BY_CODE = text("SELECT order_id FROM recording_access WHERE code = :code AND venue_id = :venue_id")
_INCLUDED = text(
    "SELECT a.id, a.code, a.status, a.ends_at, r.title FROM recording_access a "
    "JOIN recordings r ON r.id = a.recording_id "
    "WHERE a.order_id = :order_id AND a.kind = 'included'"
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
    started_at: datetime | None  # a rental's window, once opened at its first play
    ends_at: datetime | None


@dataclass(frozen=True)
class IncludedOfOrder:
    """The recording an event order's ticket includes (recordings/included.py), once its
    access is issued after the event: what the order page shows of it."""

    access_id: str
    code: str  # the buyer's secret: goes into the watch link's fragment only
    title: str
    status: str  # valid | suspended | revoked
    ends_at: datetime  # it plays until then
    over: bool  # its time is up (as of the moment the page was asked for)


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
    (title, recording_id, kind, vat, days, hours, access_id, code, status, start_by,
     started_at, ends_at) = row  # fmt: skip
    return RecordingOfOrder(
        recording_id=str(recording_id), title=str(title), kind=str(kind), vat_rate_bps=int(vat),
        start_within_days=days, watch_hours=hours, access_id=access_id, code=code,
        status=status, start_by=start_by, started_at=started_at, ends_at=ends_at,
    )  # fmt: skip


def recording_titles(
    session: Session, venue_id: str, recording_ids: Iterable[str]
) -> dict[str, str]:
    """The titles of the venue's recordings among `recording_ids`, by id (the console's
    order list names what each order bought)."""
    ids = sorted(set(recording_ids))
    if not ids:
        return {}
    rows = session.execute(_TITLES, {"venue_id": venue_id, "ids": ids})
    return {str(recording_id): str(title) for recording_id, title in rows}


def order_of_access_code(session: Session, venue_id: str, code: str) -> str | None:
    """The order of the venue's recording access with this code (a bearer secret, as a
    ticket's: looked up from a form's body, never from a URL)."""
    found = session.execute(_BY_CODE, {"code": code[:40], "venue_id": venue_id})
    order_id = found.scalar_one_or_none()
    return str(order_id) if order_id is not None else None


def included_of_order(session: Session, order_id: str, now: datetime) -> IncludedOfOrder | None:
    """The access included with the event order's ticket, if it was issued."""
    row = session.execute(_INCLUDED, {"order_id": order_id}).first()
    if row is None:
        return None
    access_id, code, status, ends_at, title = row
    return IncludedOfOrder(access_id=str(access_id), code=str(code), title=str(title),
                           status=str(status), ends_at=ends_at, over=now >= ends_at)  # fmt: skip
