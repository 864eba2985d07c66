"""Season passes: the product a venue sells, the passes it sold, and what became of them.

A pass is bought like a ticket (an order with `pass_id` set and no event, see
passes/buying.py). What it covers is a series: the events the venue puts in it, each
with the tier whose access and capacity a holder takes (`pass_events`). A holder
claims a covered event (`pass_claims`): that issues a ticket through a free order of
the event. The money of each sold pass is split once, when Stripe reports its
payment, into one `pass_shares` row per event it covers; each share is then
recognised (the event ended) or refunded (the pass was refunded, or the event
cancelled), exactly once (passes/recognition.py).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

# The tables the foreign keys below name must be registered wherever these are used.
from streamsvc.catalog import models as _catalog  # noqa: F401
from streamsvc.kit.columns import enum_string, timestamp
from streamsvc.orders import models as _orders  # noqa: F401
from streamsvc.venues import models as _venues  # noqa: F401


class Weighting(StrEnum):
    """How a pass's money is divided over the events it covers."""

    equal = "equal"  # every covered event the same
    list_price = "list_price"  # by the list price of each event's pass tier


class LateRefund(StrEnum):
    """What refunding a pass returns once some of its events have ended."""

    unplayed = "unplayed"  # the share of the events still to come
    none = "none"  # nothing: a pass in use is not refunded


class ShareState(StrEnum):
    deferred = "deferred"  # still owed to the holder or to the event
    recognised = "recognised"  # the event ended: revenue of the event
    refunded = "refunded"  # returned to the holder


class PassProduct(SQLModel, table=True):
    __tablename__ = "season_passes"
    __table_args__ = (
        # Counted like a tier's seats (orders/capacity.py): never more sold than exist.
        CheckConstraint("capacity IS NULL OR sold + held <= capacity", name="pass_within_capacity"),
        CheckConstraint("sold >= 0 AND held >= 0", name="pass_counts_not_negative"),
        CheckConstraint("price_amount >= 0", name="pass_price_not_negative"),
    )

    id: str = Field(primary_key=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=10_000)
    price_amount: int  # VAT included
    vat_rate_bps: int
    currency: str = Field(max_length=3)
    capacity: int | None = None  # how many may be sold; None: unlimited
    sold: int = 0
    held: int = 0  # reserved by pending orders
    sales_start: datetime | None = timestamp(nullable=True)
    sales_end: datetime | None = timestamp(nullable=True)
    max_claims: int | None = None  # how many covered events a holder may attend; None: all
    transferable: bool = False
    weighting: Weighting = enum_string(Weighting, 16)
    late_refund: LateRefund = enum_string(LateRefund, 16)
    published: bool = False
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class PassEvent(SQLModel, table=True):
    """An event of a pass's series, and the tier whose access and seats holders take."""

    __tablename__ = "pass_events"

    pass_id: str = Field(foreign_key="season_passes.id", primary_key=True, max_length=32)
    event_id: str = Field(foreign_key="events.id", primary_key=True, max_length=32)
    tier_id: str = Field(foreign_key="tiers.id", max_length=32)
    # Passes paid before this moment do not cover the event, nor share their money with it.
    added_at: datetime = timestamp()


class PassHolding(SQLModel, table=True):
    """One pass sold: its order, its holder and the hash of its code (a bearer secret)."""

    __tablename__ = "pass_holdings"

    id: str = Field(primary_key=True, max_length=32)
    pass_id: str = Field(foreign_key="season_passes.id", index=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    order_id: str = Field(foreign_key="orders.id", unique=True, max_length=32)
    email: str = Field(max_length=254, index=True)
    code_hash: str = Field(max_length=64)  # SHA-256 of the pass code (passes/codes.py)
    mailed_at: datetime | None = timestamp(nullable=True)
    created_at: datetime = timestamp()


class PassClaim(SQLModel, table=True):
    """A holder's seat at one covered event: the ticket of a free order of that event."""

    __tablename__ = "pass_claims"
    __table_args__ = (UniqueConstraint("holding_id", "event_id", name="pass_claim_once"),)

    id: str = Field(primary_key=True, max_length=32)
    holding_id: str = Field(foreign_key="pass_holdings.id", index=True, max_length=32)
    event_id: str = Field(foreign_key="events.id", index=True, max_length=32)
    order_id: str = Field(foreign_key="orders.id", max_length=32)
    ticket_id: str = Field(foreign_key="tickets.id", max_length=32)
    created_at: datetime = timestamp()


class PassShare(SQLModel, table=True):
    """One covered event's part of one sold pass: net of VAT, its VAT, its Stripe fee."""

    __tablename__ = "pass_shares"

    holding_id: str = Field(foreign_key="pass_holdings.id", primary_key=True, max_length=32)
    event_id: str = Field(foreign_key="events.id", primary_key=True, index=True, max_length=32)
    pass_id: str = Field(foreign_key="season_passes.id", index=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", max_length=32)
    net: int
    vat: int
    fee: int
    state: ShareState = enum_string(ShareState, 12, index=True)
    refund_id: str | None = Field(default=None, foreign_key="refunds.id", max_length=32)
    settled_at: datetime | None = timestamp(nullable=True)
    created_at: datetime = timestamp()
