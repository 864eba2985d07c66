"""What a buyer holds of a recording: one access per rental, purchase or free play.

An access is what a ticket is for an event: a bearer `code` the buyer redeems on a
device, from the order that bought it (a free one is an order of amount 0, settled
at once without Stripe). A rental must start within its days (`start_by`) and then
plays for its hours: the window opens at the first redemption and is kept here, in
PostgreSQL, so losing Redis neither restarts nor ends it (`started_at`, `ends_at`).
A purchase or a free play has no window. Revoked accesses (a refund, a dispute lost)
play no more.

An access may also come with a ticket instead of an offer (kind `included`,
recordings/included.py): a tier includes a recording for its holders for some days
after the event; its window, [the event's end, + those days), is set when it is
issued, and its order is the event's order (refunded or disputed, it follows).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from streamsvc.kit.columns import enum_string, timestamp
from streamsvc.orders import models as _orders  # noqa: F401 (the table orders.id names)


class AccessKind(StrEnum):
    """What an access was granted as: an offer's kind (recordings/models.py OfferKind),
    or included with a ticket of a tier that includes the recording."""

    rental = "rental"
    purchase = "purchase"
    free = "free"
    included = "included"


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
        # Included with a ticket: no offer and no rental terms; its window is set whole.
        CheckConstraint(
            "(kind = 'included') = (offer_id IS NULL)"
            " AND (kind <> 'included' OR (started_at IS NOT NULL AND ends_at IS NOT NULL"
            " AND start_by IS NULL AND watch_hours IS NULL))",
            name="recording_access_included",
        ),
    )

    id: str = Field(primary_key=True, max_length=32)
    code: str = Field(max_length=40, unique=True)  # what the buyer redeems; unguessable
    recording_id: str = Field(foreign_key="recordings.id", index=True, max_length=32)
    # None for an access included with a ticket (kind `included`): no offer sold it.
    offer_id: str | None = Field(
        default=None, foreign_key="recording_offers.id", max_length=32, nullable=True
    )
    order_id: str = Field(foreign_key="orders.id", unique=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    kind: AccessKind = enum_string(AccessKind, 16)
    status: AccessStatus = enum_string(AccessStatus, 12)
    start_by: datetime | None = timestamp(nullable=True)  # rental: start watching before
    watch_hours: int | None = None  # rental: how long it plays once started
    started_at: datetime | None = timestamp(nullable=True)  # rental: the first redemption
    ends_at: datetime | None = timestamp(nullable=True)  # rental: started_at + watch_hours
    # An included access's mail (recordings/included.py); a bought one's is its order's.
    mailed_at: datetime | None = timestamp(nullable=True)
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class RecordingPlay(SQLModel, table=True):
    """A device starting a recording: once per access, device and day (UTC), whatever
    the kind of access, so a rights holder's statement can count plays (a reload, or a
    player redeeming again, is not another play). Written at each session start
    (recordings/plays.py); the device is kept as a short hash of the player's id."""

    __tablename__ = "recording_plays"
    # Statements count a recording's plays of a period.
    __table_args__ = (
        Index("ix_recording_plays_recording_id_started_at", "recording_id", "started_at"),
    )

    access_id: str = Field(foreign_key="recording_access.id", primary_key=True, max_length=32)
    device: str = Field(primary_key=True, max_length=16)
    day: date = Field(primary_key=True)
    recording_id: str = Field(foreign_key="recordings.id", max_length=32)
    started_at: datetime = timestamp()
