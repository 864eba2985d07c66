"""Payout details, batches, their lines, and the claims that pay each ledger entry once.

A party (a venue, a performer, a recording's rights holder) is owed what its payable
account in a venue's books holds (finance/accounts.py `payable:{type}:{id}`). A payout
run pays those balances in a batch: one line per party. Which ledger entries a line
pays is recorded in `payout_claims`, whose primary key is the entry: a payable entry
belongs to at most one line, so nothing is paid twice (runs.py explains the whole rule).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    String,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from streamsvc.kit.columns import timestamp
from streamsvc.venues import models as _venues  # noqa: F401  (the venues table, for the FKs)

PARTY_TYPES = ("venue", "performer", "rights_holder")
# A line's status: `pending` waits for the bank, then `paid`; `failed` came back (its
# amount payable again); `held` could not be paid (no valid or confirmed details) and
# `carried` was negative or under the threshold: both claim nothing, so their amounts
# stay payable for the next run.
LINE_STATUSES = ("pending", "paid", "failed", "held", "carried")
BATCH_STATUSES = ("awaiting_approval", "approved", "paid")


class PayoutDetails(SQLModel, table=True):
    """Where a venue pays a party: the account holder, IBAN and BIC, and who changed
    and who confirmed them. Changed details hold the party's payments until a finance
    member other than the changer confirms them (the check says so too)."""

    __tablename__ = "payout_details"
    __table_args__ = (
        UniqueConstraint("venue_id", "party_type", "party_id", name="payout_details_once"),
        CheckConstraint(
            "confirmed_by IS NULL OR confirmed_by <> changed_by",
            name="payout_details_confirmed_by_another",
        ),
    )

    id: str = Field(primary_key=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)  # the payer's books
    party_type: str = Field(max_length=20)
    party_id: str = Field(max_length=32)
    holder: str = Field(max_length=70)  # SEPA allows 70 characters for the creditor's name
    iban: str = Field(max_length=34)  # compact, upper case
    bic: str | None = Field(default=None, max_length=11)
    changed_by: str = Field(max_length=64)  # a staff person id, or a performer id (/me)
    changed_at: datetime = timestamp()
    confirmed_by: str | None = Field(default=None, max_length=64)
    confirmed_at: datetime | None = timestamp(nullable=True)


class PayoutSettings(SQLModel, table=True):
    """A venue's payout settings: whether one finance member may approve alone."""

    __tablename__ = "payout_settings"

    venue_id: str = Field(foreign_key="venues.id", primary_key=True, max_length=32)
    four_eyes_waived: bool = False
    changed_at: datetime = timestamp()


class PayoutBatch(SQLModel, table=True):
    """One payout run of a venue's books for a period, in one currency."""

    __tablename__ = "payout_batches"
    __table_args__ = (
        CheckConstraint(
            "approved_by IS NULL OR approved_by <> created_by OR approval_waived",
            name="payout_batch_approved_by_another",
        ),
    )

    id: str = Field(primary_key=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    currency: str = Field(max_length=3)
    period: str = Field(max_length=7)  # YYYY-MM: pays events that ended up to its end
    cutoff: datetime = timestamp()  # events that ended before this are paid
    status: str = Field(max_length=20)  # BATCH_STATUSES
    total: int = Field(sa_column=Column(BigInteger, nullable=False))  # of the pending lines
    rail: str = Field(max_length=20)  # the PayoutRail that pays it, e.g. "sepa"
    created_by: str = Field(max_length=64)
    created_at: datetime = timestamp(index=True)
    approval_waived: bool = False  # the venue's setting when it was approved
    approved_by: str | None = Field(default=None, max_length=64)
    approved_at: datetime | None = timestamp(nullable=True)
    executed_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    paid_by: str | None = Field(default=None, max_length=64)
    paid_at: datetime | None = timestamp(nullable=True)


class PayoutLine(SQLModel, table=True):
    """A party's line in a batch, with the details it is paid to as they were then."""

    __tablename__ = "payout_lines"
    __table_args__ = (
        UniqueConstraint("batch_id", "account_id", name="payout_line_once_per_batch"),
        CheckConstraint("amount >= 0", name="payout_line_amount_not_negative"),
    )

    id: str = Field(primary_key=True, max_length=32)  # also the SEPA end-to-end id
    batch_id: str = Field(foreign_key="payout_batches.id", index=True, max_length=32)
    # Whose books the line pays from: the batch's venue, or for a co-producer's share of
    # a co-production the lead venue's (books.py posts its ledger moves there).
    venue_id: str = Field(foreign_key="venues.id", max_length=32)
    account_id: str = Field(max_length=32)  # the party's payable ledger account
    party_type: str = Field(max_length=20)
    party_id: str = Field(max_length=32, index=True)
    party_name: str = Field(max_length=200)
    status: str = Field(max_length=12)  # LINE_STATUSES
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))  # paid; 0 unless pending
    # What stays payable: a negative balance or one under the threshold (`carried`),
    # or the whole balance of a `held` line.
    left_payable: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    reason: str = Field(default="", max_length=40)  # why held or carried, why failed
    holder: str = Field(default="", max_length=70)
    iban: str = Field(default="", max_length=34)
    bic: str | None = Field(default=None, max_length=11)
    failed_at: datetime | None = timestamp(nullable=True)
    advised_at: datetime | None = timestamp(nullable=True)  # the payout advice was mailed


class PayoutClaim(SQLModel, table=True):
    """A payable ledger entry paid by a line. The entry is the key: at most one line
    pays it. A failed line gives its claims up (deleted), so the entries are paid
    again by a later run."""

    __tablename__ = "payout_claims"

    entry_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    line_id: str = Field(
        sa_column=Column(String(32), ForeignKey("payout_lines.id"), nullable=False, index=True)
    )
