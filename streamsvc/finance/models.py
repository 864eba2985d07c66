"""What Stripe reported about an event's money: its balance transactions, as fetched.

This is Stripe's account of each movement (a charge, a refund, a failed refund, a
dispute withdrawal or reinstatement), stored as read so that posting to the ledger
and splitting are set-based SQL over it. A row is written once; only `status` and
`available_on` follow Stripe while funds are pending. Any other change Stripe
reports later is a finding, never an overwrite.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, LargeBinary, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

# The catalog, orders and venues modules register the tables these rows refer to,
# wherever these models are used: a worker or a script may import finance alone, and
# the ORM needs those tables to order its inserts.
from streamsvc.catalog import models as _catalog  # noqa: F401
from streamsvc.jobs import models as _jobs  # noqa: F401
from streamsvc.kit.columns import jsonb, timestamp
from streamsvc.ledger import models as _ledger  # noqa: F401
from streamsvc.orders import models as _orders  # noqa: F401
from streamsvc.recordings import models as _recordings  # noqa: F401
from streamsvc.staff import models as _staff  # noqa: F401
from streamsvc.venues import models as _venues  # noqa: F401

KINDS = ("charge", "refund", "refund_failure", "dispute", "dispute_reversal")


class BalanceTransactionRecord(SQLModel, table=True):
    __tablename__ = "stripe_balance_transactions"
    # Posting walks an event's (or a recording's) rows in id order, in batches.
    __table_args__ = (
        Index("ix_stripe_balance_transactions_event_id_id", "event_id", "id"),
        Index("ix_stripe_balance_transactions_recording_id_id", "recording_id", "id"),
        CheckConstraint("num_nonnulls(event_id, recording_id) = 1",
                        name="stripe_balance_transactions_one_subject"),
    )  # fmt: skip

    id: str = Field(primary_key=True, max_length=255)  # Stripe's txn_…
    venue_id: str = Field(foreign_key="venues.id", max_length=32)
    # What the money was paid for (finance/subjects.py): an event or a recording.
    event_id: str | None = Field(default=None, foreign_key="events.id", max_length=32)
    recording_id: str | None = Field(default=None, foreign_key="recordings.id", max_length=32)
    order_id: str = Field(foreign_key="orders.id", index=True, max_length=32)
    kind: str = Field(max_length=20)  # one of KINDS
    source_id: str = Field(max_length=255)  # the charge, refund or dispute it belongs to
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))  # gross, signed
    fee: int = Field(sa_column=Column(BigInteger, nullable=False))
    net: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)  # upper case, like the ledger
    status: str = Field(max_length=12)  # available | pending
    available_on: datetime | None = timestamp(nullable=True)
    created: datetime = timestamp()  # Stripe's own time of the movement
    fetched_at: datetime = timestamp()


class SplitPosting(SQLModel, table=True):
    """The waterfall of one split transaction: what changed since the previous split of
    the same event and rule version (all deltas, in minor units). Written with the split
    posting, never changed (append-only like the ledger), so exports read the waterfall
    from the ledger's own record instead of recomputing it."""

    __tablename__ = "split_postings"
    # Exports read a venue's postings of a period.
    __table_args__ = (
        Index("ix_split_postings_venue_id_posted_at", "venue_id", "posted_at"),
        CheckConstraint("num_nonnulls(event_id, recording_id) = 1",
                        name="split_postings_one_subject"),
    )  # fmt: skip

    transaction_id: str = Field(primary_key=True, max_length=32)  # the split's ledger transaction
    venue_id: str = Field(foreign_key="venues.id", max_length=32)
    event_id: str | None = Field(default=None, foreign_key="events.id", index=True,
                                 max_length=32)  # fmt: skip
    recording_id: str | None = Field(default=None, foreign_key="recordings.id", index=True,
                                     max_length=32)  # fmt: skip
    version: int  # the split-rule version (the event's, or the recording's)
    period: str = Field(max_length=40)
    currency: str = Field(max_length=3)
    orders: int
    gross: int = Field(sa_column=Column(BigInteger, nullable=False))
    refunds: int = Field(sa_column=Column(BigInteger, nullable=False))
    disputes: int = Field(sa_column=Column(BigInteger, nullable=False))
    vat: int = Field(sa_column=Column(BigInteger, nullable=False))
    stripe_fees: int = Field(sa_column=Column(BigInteger, nullable=False))
    platform_fee: int = Field(sa_column=Column(BigInteger, nullable=False))
    costs: int = Field(sa_column=Column(BigInteger, nullable=False))
    distributable: int = Field(sa_column=Column(BigInteger, nullable=False))
    # Season pass revenue recognised for the event (net of VAT), the change since the
    # previous split like the figures above; included in `distributable`.
    pass_revenue: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default=text("0"))
    )
    shares: dict[str, int] = jsonb()  # party account -> bps under this version
    # The VAT per rate (bps as text -> amount), the change since the previous split like
    # `vat`, of which it is the breakdown; empty on postings made before it was kept.
    vat_rates: dict[str, int] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    posted_at: datetime = timestamp()


class ExportFile(SQLModel, table=True):
    """A finished export job's file, kept in PostgreSQL so that any API node serves it,
    until `expires_at` (STREAMSVC_EXPORT_LINK_HOURS); beat deletes it then. One per job:
    a job run again finds its file and writes none."""

    __tablename__ = "export_files"
    # Beat deletes the expired files.
    __table_args__ = (Index("ix_export_files_expires_at", "expires_at"),)

    job_id: str = Field(primary_key=True, foreign_key="jobs.id", max_length=32)
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    media_type: str = Field(max_length=100)
    filename: str = Field(max_length=120)
    rows: int
    size: int = Field(sa_column=Column(BigInteger, nullable=False))  # bytes of `content`
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp()


class FindingAcknowledgement(SQLModel, table=True):
    """A finance member's acknowledgement of a reconciliation finding, with their note.

    A row of its own, never a change to the finding: findings are recorded once and
    never overwritten, and the audit log (`finding.acknowledged`) stays the record of
    who did what. Acknowledging touches nothing in the ledger. One per finding."""

    __tablename__ = "finding_acknowledgements"

    finding_id: str = Field(
        primary_key=True, foreign_key="reconciliation_findings.id", max_length=32
    )
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    acknowledged_by: str = Field(foreign_key="staff_people.id", max_length=32)
    note: str = Field(max_length=1000)
    acknowledged_at: datetime = timestamp()


class StripePayoutRecord(SQLModel, table=True):
    """A Stripe payout of the account's balance (finance/payouts_stripe.py), beyond the
    `payout.*` webhooks stored in `stripe_events`: the payout as reconciliation last
    found it in Stripe's list of payouts (a report like a webhook's, for a payout whose
    webhook never came), and the status whose postings are complete (so that the list
    is not posted again while nothing changed). One row per payout."""

    __tablename__ = "stripe_payouts"

    id: str = Field(primary_key=True, max_length=255)  # Stripe's po_…
    # Stripe's fields as listed (id, status, amount, currency, automatic,
    # reconciliation_status, created, arrival_date); None: never listed yet.
    listed: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    listed_at: datetime | None = timestamp(nullable=True)  # when the listing last changed
    # pending | in_transit | paid | failed | canceled: everything this status of the
    # payout asks for is posted; None: nothing posted yet.
    posted_status: str | None = Field(default=None, max_length=20)
    posted_at: datetime | None = timestamp(nullable=True)
