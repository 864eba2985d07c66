"""Season passes: the product a venue sells, the passes it sold, and what became of them.

A pass is bought like a ticket (an order with `pass_id` set and no event, see
passes/buying.py). What it covers is a series: the events the venue puts in it, each
with the tier whose access and capacity a holder takes (`pass_events`), chosen one by
one by staff, or, for a date-range pass, every event of the venue starting in its
dates, put in by passes/coverage.py. A holder claims a covered event (`pass_claims`):
that issues a ticket through a free order of the event. The money of each sold pass
is split once, when Stripe reports its payment, into one `pass_shares` row per event
it covers; each share is then recognised (the event ended) or refunded (the pass was
refunded, or the event cancelled), exactly once (passes/recognition.py).
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

MAX_EVENTS = 200  # the most events one pass covers (its holders' claims, its shares)


class Weighting(StrEnum):
    """How a pass's money is divided over the events it covers."""

    equal = "equal"  # every covered event the same
    list_price = "list_price"  # by the list price of each event's pass tier


class LateRefund(StrEnum):
    """What refunding a pass returns once some of its events have ended."""

    unplayed = "unplayed"  # the share of the events still to come
    none = "none"  # nothing: a pass in use is not refunded


class Coverage(StrEnum):
    """How a pass's events are chosen."""

    series = "series"  # staff add them one by one
    date_range = "date_range"  # every event of the venue starting in [covers_from, covers_until)


class ShareState(StrEnum):
    deferred = "deferred"  # still owed to the holder or to the event
    recognised = "recognised"  # the event ended: revenue of the event
    refunded = "refunded"  # returned to the holder


# A series has no dates; a date range has both, in order, and the moment they were set.
COVERAGE_RANGE = (
    "(coverage = 'series' AND covers_from IS NULL AND covers_until IS NULL)"
    " OR (coverage = 'date_range' AND covers_from IS NOT NULL AND covers_until IS NOT NULL"
    " AND covers_until > covers_from AND range_changed_at IS NOT NULL)"
)


class PassProduct(SQLModel, table=True):
    __tablename__ = "season_passes"
    __table_args__ = (
        # Counted like a tier's seats (orders/capacity.py): never more sold than exist.
        CheckConstraint("capacity IS NULL OR sold + held <= capacity", name="pass_within_capacity"),
        CheckConstraint("sold >= 0 AND held >= 0", name="pass_counts_not_negative"),
        CheckConstraint("price_amount >= 0", name="pass_price_not_negative"),
        CheckConstraint(COVERAGE_RANGE, name="pass_coverage_range"),
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
    coverage: Coverage = enum_string(Coverage, 16)
    covers_from: datetime | None = timestamp(nullable=True)
    covers_until: datetime | None = timestamp(nullable=True)  # exclusive
    # When the range was set or last grew: an event it brings in joins the pass then at
    # the earliest, so the passes paid before do not cover it (passes/coverage.py).
    range_changed_at: datetime | None = timestamp(nullable=True)


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
    # Our refund of this share that Stripe failed (passes/outside.py): the share is
    # deferred again, and a cancelled event's refund does not retry it by itself.
    failed_refund_id: str | None = Field(default=None, foreign_key="refunds.id", max_length=32)
    settled_at: datetime | None = timestamp(nullable=True)
    created_at: datetime = timestamp()


class ReturnSource(StrEnum):
    """How money left a pass outside our own refund path (passes/outside.py)."""

    refund = "refund"  # a refund made in Stripe's dashboard
    dispute = "dispute"  # a dispute the venue lost


class PassShareReturn(SQLModel, table=True):
    """One deferred share's part of money that left the pass outside our refund path:
    a refund made in Stripe's dashboard or a lost dispute (passes/outside.py). What is
    left of a share is its net and VAT less its parts not reversed; `emptied`: this part
    took the rest of it (the share became refunded, its fee share kept by Stripe), and
    `reversed_at`: the refund failed and the part came back to the share."""

    __tablename__ = "pass_share_returns"
    __table_args__ = (
        CheckConstraint(
            "net >= 0 AND vat >= 0 AND fee >= 0", name="pass_share_return_not_negative"
        ),
        CheckConstraint("source IN ('refund', 'dispute')", name="pass_share_return_source"),
    )

    holding_id: str = Field(foreign_key="pass_holdings.id", primary_key=True, max_length=32)
    event_id: str = Field(foreign_key="events.id", primary_key=True, max_length=32)
    source_id: str = Field(primary_key=True, max_length=255)  # refunds.id or disputes.id
    source: ReturnSource = enum_string(ReturnSource, 8)
    net: int
    vat: int
    fee: int  # the share's whole fee when `emptied`, else 0
    emptied: bool
    reversed_at: datetime | None = timestamp(nullable=True)
    created_at: datetime = timestamp()


# How many times one pass may change hands: enough for a season's changes of plan, too
# few to launder a code through a chain of addresses.
MAX_TRANSFERS = 5


class PassTransfer(SQLModel, table=True):
    """One hand-over of a pass to another person (passes/transfer.py).

    `sequence` numbers a pass's transfers from 1: it is the generation of the code the
    transfer made (codes.code_for), and a pass is transferred at most MAX_TRANSFERS
    times. Who received it is the holding's address; who gave it is kept only until
    their notice is mailed (`previous_email`, then emptied), so that no address
    outlives its use here, and erasure empties it too (buyers/erasure.py)."""

    __tablename__ = "pass_transfers"
    __table_args__ = (
        UniqueConstraint("holding_id", "sequence", name="pass_transfer_once"),
        CheckConstraint("sequence >= 1", name="pass_transfer_sequence_positive"),
    )

    id: str = Field(primary_key=True, max_length=32)
    holding_id: str = Field(foreign_key="pass_holdings.id", index=True, max_length=32)
    sequence: int
    previous_email: str | None = Field(default=None, max_length=254)
    previous_locale: str = Field(max_length=2)  # the notice's language: the page's
    new_locale: str = Field(max_length=2)  # the pass mail's language
    tickets_moved: int = 0
    pass_mailed_at: datetime | None = timestamp(nullable=True)
    notice_mailed_at: datetime | None = timestamp(nullable=True)
    created_at: datetime = timestamp()
