"""What a buyer holds of a recording: one access per rental, purchase or free play.

An access is what a ticket is for an event: a bearer `code` the buyer redeems on a
device, from the order that bought it (a free one is an order of amount 0, settled
at once without Stripe). A rental must start within its days (`start_by`) and then
plays for its hours: the window opens at the first redemption and is kept here, in
PostgreSQL, so losing Redis neither restarts nor ends it (`started_at`, `ends_at`).
A purchase or a free play has no window. Revoked accesses (a refund, a dispute lost)
play no more.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from streamsvc.kit.columns import enum_string, timestamp
from streamsvc.orders import models as _orders  # noqa: F401 (the table orders.id names)
from streamsvc.recordings.models import OfferKind


class AccessStatus(StrEnum):
    valid = "valid"
    suspended = "suspended"  # the payment is disputed: held until the dispute ends
    revoked = "revoked"  # refunded or the dispute lost: final


class RecordingAccess(SQLModel, table=True):
    __tablename__ = "recording_access"
    __table_args__ = (
        # A rental has its deadline to start and its hours; nothing else has either.
        CheckConstraint(
            "(kind = 'rental') = (start_by IS NOT NULL AND watch_hours IS NOT NULL)",
            name="recording_access_rental_terms",
        ),
        CheckConstraint("watch_hours IS NULL OR watch_hours > 0", name="recording_access_hours"),
        # The window is opened once, whole: both moments or neither, the end after.
        CheckConstraint(
            "(started_at IS NULL) = (ends_at IS NULL)"
            " AND (ends_at IS NULL OR ends_at > started_at)",
            name="recording_access_window",
        ),
    )

    id: str = Field(primary_key=True, max_length=32)
    code: str = Field(max_length=40, unique=True)  # what the buyer redeems; unguessable
    recording_id: str = Field(foreign_key="recordings.id", index=True, max_length=32)
    offer_id: str = Field(foreign_key="recording_offers.id", max_length=32)
    order_id: str = Field(foreign_key="orders.id", unique=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    kind: OfferKind = enum_string(OfferKind, 16)
    status: AccessStatus = enum_string(AccessStatus, 12)
    start_by: datetime | None = timestamp(nullable=True)  # rental: start watching before
    watch_hours: int | None = None  # rental: how long it plays once started
    started_at: datetime | None = timestamp(nullable=True)  # rental: the first redemption
    ends_at: datetime | None = timestamp(nullable=True)  # rental: started_at + watch_hours
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
