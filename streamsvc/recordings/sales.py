"""A recording's sales as the console shows them: its totals and its orders, newest first.

Read-only and scoped to the caller's venue: another venue's recording is unknown here
(404 through `service.get_recording`), and only the venue's own orders are counted.
An order counts as paid once its payment arrived (`paid_at`), whatever happened to it
since: its refunds are shown beside it, not taken out of what was paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from streamsvc.kit.pagination import decode_cursor, encode_cursor
from streamsvc.kit.validation import mask_email
from streamsvc.orders.models import Order
from streamsvc.recordings import service
from streamsvc.recordings.access import RecordingAccess
from streamsvc.recordings.models import OfferKind, RecordingOffer
from streamsvc.venues.models import Venue

PAGE_SIZE = 100


@dataclass(frozen=True)
class KindTotal:
    """The paid orders of one offer kind (rental, purchase, free)."""

    kind: str
    orders: int
    gross: int  # what was paid for them, VAT included, minor units


@dataclass(frozen=True)
class SaleRow:
    """One order of the recording with what its access is now (None before payment)."""

    order_id: str
    created_at: datetime
    email: str  # masked: enough to recognise a buyer, not to copy the address
    kind: str
    amount: int
    refunded: int
    currency: str
    status: str
    access_status: str | None
    start_by: datetime | None  # a rental not started yet: start watching before
    started_at: datetime | None  # a rental started: its window
    ends_at: datetime | None


@dataclass(frozen=True)
class RecordingSales:
    timezone: str  # the venue's, in which the page shows every moment
    currency: str
    paid_orders: int
    gross_paid: int
    refunded: int
    by_kind: list[KindTotal]
    rows: list[SaleRow]
    older: str | None  # the cursor of the next (older) page; None on the last


def recording_sales(
    session: Session, venue_id: str, recording_id: str, *, older: str | None = None
) -> RecordingSales:
    """The recording's sales: totals over all its paid orders and one page of at most
    PAGE_SIZE orders, newest first, after the cursor `older` (422 if not ours)."""
    recording = service.get_recording(session, venue_id, recording_id)
    venue = session.get(Venue, venue_id)
    assert venue is not None
    ours = (Order.venue_id == venue_id, Order.recording_id == recording.id)
    kinds = session.exec(
        select(RecordingOffer.kind, func.count(col(Order.id)), func.sum(Order.paid_amount),
               func.sum(Order.refunded_amount))
        .join(RecordingOffer, col(RecordingOffer.id) == col(Order.recording_offer_id))
        .where(*ours, col(Order.paid_at).is_not(None))
        .group_by(RecordingOffer.kind)
    ).all()  # fmt: skip
    found = {str(kind): (int(n), int(gross or 0), int(back or 0)) for kind, n, gross, back in kinds}
    by_kind = [KindTotal(kind.value, found[kind.value][0], found[kind.value][1])
               for kind in OfferKind if kind.value in found]  # fmt: skip
    rows, cursor = _page(session, venue_id, recording.id, older)
    return RecordingSales(
        timezone=venue.timezone,
        currency=recording.currency,
        paid_orders=sum(n for n, _, _ in found.values()),
        gross_paid=sum(gross for _, gross, _ in found.values()),
        refunded=sum(back for _, _, back in found.values()),
        by_kind=by_kind,
        rows=rows,
        older=cursor,
    )


def _page(
    session: Session, venue_id: str, recording_id: str, older: str | None
) -> tuple[list[SaleRow], str | None]:
    """One page newest first: keyset on (created_at, id) descending."""
    query = (
        select(Order, RecordingOffer.kind, RecordingAccess)
        .join(RecordingOffer, col(RecordingOffer.id) == col(Order.recording_offer_id))
        .outerjoin(RecordingAccess, col(RecordingAccess.order_id) == col(Order.id))
        .where(Order.venue_id == venue_id, Order.recording_id == recording_id)
    )
    if older:
        at, after_id = decode_cursor(older)
        query = query.where(
            (col(Order.created_at) < at)
            | ((col(Order.created_at) == at) & (col(Order.id) < after_id))
        )
    found = list(session.exec(
        query.order_by(col(Order.created_at).desc(), col(Order.id).desc()).limit(PAGE_SIZE + 1)
    ))  # fmt: skip
    cursor = None
    if len(found) > PAGE_SIZE:
        found = found[:PAGE_SIZE]
        last = found[-1][0]
        cursor = encode_cursor(last.created_at, last.id)
    return [_row(order, str(kind), access) for order, kind, access in found], cursor


def _row(order: Order, kind: str, access: RecordingAccess | None) -> SaleRow:
    return SaleRow(
        order_id=order.id,
        created_at=order.created_at,
        email=mask_email(order.email),
        kind=kind,
        amount=order.total_amount,
        refunded=order.refunded_amount,
        currency=order.currency,
        status=str(order.status),
        access_status=str(access.status) if access else None,
        start_by=access.start_by if access else None,
        started_at=access.started_at if access else None,
        ends_at=access.ends_at if access else None,
    )
