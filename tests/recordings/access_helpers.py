"""Recording accesses for viewing tests, written directly as buying leaves them (the
buying path has its own tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select

from streamsvc.db import Database
from streamsvc.kit.ids import new_id, random_token
from streamsvc.orders.models import CapacityState, Order, OrderStatus
from streamsvc.recordings.access import AccessKind, AccessStatus, RecordingAccess
from streamsvc.recordings.models import OfferKind, RecordingOffer


@dataclass
class Grant:
    access_id: str
    code: str


def grant(database: Database, recording_id: str, kind: OfferKind, now: datetime,
          status: AccessStatus = AccessStatus.valid) -> Grant:  # fmt: skip
    """An access as buying makes one (its order paid), written directly: a rental of the
    offer's terms (30 days to start, 48 hours to watch), a purchase or a free play."""
    with database.unit_of_work() as uow:
        offer = uow.session.exec(
            select(RecordingOffer).where(
                col(RecordingOffer.recording_id) == recording_id,
                col(RecordingOffer.kind) == kind, col(RecordingOffer.retired_at).is_(None),
            )
        ).one()  # fmt: skip
        order = Order(
            id=new_id("ord"), venue_id=offer.venue_id, recording_id=recording_id,
            recording_offer_id=offer.id, email="viewer@example.org", country="NL",
            locale="en", status=OrderStatus.paid, capacity=CapacityState.sold,
            total_amount=offer.price_amount, currency="EUR", token_hash="0" * 64,
            split_rule_version=1, paid_amount=offer.price_amount, expires_at=now,
            paid_at=now, created_at=now, updated_at=now,
        )  # fmt: skip
        uow.session.add(order)
        uow.session.flush()
        rental = kind == OfferKind.rental
        access = RecordingAccess(
            id=new_id("rac"), code=random_token(24), recording_id=recording_id,
            offer_id=offer.id, order_id=order.id, venue_id=offer.venue_id, kind=AccessKind(kind),
            status=status,
            start_by=now + timedelta(days=offer.start_within_days or 0) if rental else None,
            watch_hours=offer.watch_hours, created_at=now, updated_at=now,
        )  # fmt: skip
        uow.session.add(access)
        return Grant(access.id, access.code)


def access_row(database: Database, access_id: str) -> RecordingAccess:
    with database.unit_of_work() as uow:
        found = uow.session.get(RecordingAccess, access_id)
        assert found is not None
        return found
