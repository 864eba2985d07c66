"""What a venue sells: performers, events, tiers and the split rule of each event."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import CheckConstraint, Column, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from streamsvc.kit.columns import jsonb, timestamp


class Performer(SQLModel, table=True):
    __tablename__ = "performers"

    id: str = Field(primary_key=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    payout_reference: str | None = Field(default=None, max_length=200)
    created_at: datetime = timestamp()


class Event(SQLModel, table=True):
    __tablename__ = "events"

    id: str = Field(primary_key=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=10_000)
    starts_at: datetime = timestamp(index=True)
    ends_at: datetime = timestamp()
    timezone: str = Field(max_length=64)
    attendance_mode: str = Field(max_length=16)  # online | hybrid
    currency: str = Field(max_length=3)
    doors_open_minutes: int
    replay_hours: int
    allowed_countries: list[str] = jsonb()  # empty: everywhere
    playback: str | None = Field(default=None, max_length=2000)  # origin URL of the stream
    # Stored lifecycle state; live and ended also follow the clock (see lifecycle.py).
    status: str = Field(max_length=16, index=True)
    published_at: datetime | None = timestamp(nullable=True)
    # Set when an event with sales is rescheduled (orders/rescheduling.py): the start it
    # had before, when it moved, and until when its buyers may ask for their money back.
    previous_starts_at: datetime | None = timestamp(nullable=True)
    rescheduled_at: datetime | None = timestamp(nullable=True)
    refund_until: datetime | None = timestamp(nullable=True)
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
    # The UiTdatabank event type (catalog/event_types.py, e.g. 0.50.4.0.0 Concert) the
    # event is offered to the sector's listings under; None: not offered there.
    uitdatabank_type: str | None = Field(default=None, max_length=20, nullable=True)


class EventPerformer(SQLModel, table=True):
    __tablename__ = "event_performers"

    event_id: str = Field(foreign_key="events.id", primary_key=True, max_length=32)
    performer_id: str = Field(foreign_key="performers.id", primary_key=True, max_length=32)
    position: int


class Tier(SQLModel, table=True):
    __tablename__ = "tiers"
    __table_args__ = (
        # The last line of defence against overselling: the database refuses it.
        CheckConstraint("capacity IS NULL OR sold + held <= capacity", name="tier_within_capacity"),
        CheckConstraint("sold >= 0 AND held >= 0", name="tier_counts_not_negative"),
        CheckConstraint("price_amount >= 0", name="tier_price_not_negative"),
        # A recording included for its holders comes with its days, 1 to 365 after the end.
        CheckConstraint(
            "(recording_id IS NULL) = (recording_days IS NULL)"
            " AND (recording_days IS NULL OR recording_days BETWEEN 1 AND 365)",
            name="tier_recording_days",
        ),
    )

    id: str = Field(primary_key=True, max_length=32)
    event_id: str = Field(foreign_key="events.id", index=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    name: str = Field(max_length=200)
    price_amount: int
    pwyw_min_amount: int | None = None
    pwyw_suggested_amount: int | None = None
    capacity: int | None = None  # None: unlimited
    sold: int = 0
    held: int = 0  # reserved by pending orders
    sales_start: datetime | None = timestamp(nullable=True)
    sales_end: datetime | None = timestamp(nullable=True)
    vat_rate_bps: int
    quality: str = Field(max_length=8)  # sd | hd | uhd
    extras: list[str] = jsonb()
    in_venue: bool
    rewatch_hours: int
    max_devices: int
    on_device_limit: str = Field(max_length=16)  # refuse | drop_oldest
    position: int  # display order within the event: the order of creation
    created_at: datetime = timestamp()
    # A bundle's parts (catalog/bundles.py): [{label, amount, vat_rate_bps}], amounts
    # summing to price_amount, each taxed at its own rate; empty: one rate for the tier.
    components: list[dict[str, Any]] = Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    )
    # One of the venue's recordings its holders may watch for `recording_days` after the
    # event ends (recordings/included.py); None: none included.
    recording_id: str | None = Field(
        default=None, foreign_key="recordings.id", index=True, max_length=32, nullable=True
    )
    recording_days: int | None = None


class SplitRule(SQLModel, table=True):
    """One version of an event's split rule. Versions are never changed, only added."""

    __tablename__ = "split_rules"
    __table_args__ = (UniqueConstraint("event_id", "version", name="split_rule_version"),)

    id: str = Field(primary_key=True, max_length=32)
    event_id: str = Field(foreign_key="events.id", index=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", max_length=32)
    version: int
    platform_fee_bps: int
    costs: list[dict[str, Any]] = jsonb()  # [{label, amount, currency}], recouped in order
    shares: list[dict[str, Any]] = jsonb()  # [{party: {type, id}, bps}], summing to 10000
    created_at: datetime = timestamp()


class _Rewatch(Protocol):
    @property
    def rewatch_hours(self) -> int: ...


class _Replay(Protocol):
    @property
    def replay_hours(self) -> int: ...


def rewatch_hours_granted(tier: _Rewatch, event: _Replay) -> int:
    """Hours after the end a ticket of this tier plays: the tier's rewatch, within the
    event's replay window (the venue keeps the replay online that long, no longer).
    Access enforces it and the catalogue publishes it, so neither promises more."""
    return min(tier.rewatch_hours, event.replay_hours)
