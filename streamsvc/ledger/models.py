"""The double-entry ledger: accounts, transactions and their entries.

Append-only, and balanced by the database itself (see migration 0006): a statement
trigger refuses any insert of entries after which a transaction does not sum to
zero, has fewer than two entries, or mixes currencies or venues, and a deferred
trigger refuses at commit a transaction left without entries; other triggers refuse
every UPDATE and DELETE of transactions, entries and accounts. Corrections are reversing
transactions. Every transaction carries a unique reference, so posting twice is a
no-op.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from streamsvc.kit.columns import timestamp


class LedgerAccount(SQLModel, table=True):
    __tablename__ = "ledger_accounts"
    __table_args__ = (UniqueConstraint("venue_id", "code", "currency", name="ledger_account_once"),)

    id: str = Field(primary_key=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    # e.g. stripe_balance, vat_payable, stripe_fees, platform_fees,
    # costs_recouped:<event>, payable:<party type>:<party id>
    code: str = Field(max_length=120)
    currency: str = Field(max_length=3)
    # The party a payable account is owed to (venue or performer), as columns so that
    # exports join on them; a check (migration 0008) keeps them and the code agreed.
    party_type: str | None = Field(default=None, max_length=20)
    party_id: str | None = Field(default=None, max_length=32)
    created_at: datetime = timestamp()


class LedgerTransaction(SQLModel, table=True):
    __tablename__ = "ledger_transactions"

    id: str = Field(primary_key=True, max_length=32)
    # Venue, event and reversed transaction are checked once per INSERT statement by a
    # trigger (migration 0006) rather than by foreign keys, row by row.
    venue_id: str = Field(index=True, max_length=32)
    event_id: str | None = Field(default=None, index=True, max_length=32)
    recording_id: str | None = Field(default=None, index=True, max_length=32)  # or a recording
    reference: str = Field(max_length=255, unique=True)  # bt:{id}, split:{event}:v{n}:{period}, ...
    currency: str = Field(max_length=3)
    description: str = Field(default="", max_length=500)
    reverses: str | None = Field(default=None, max_length=32)
    posted_at: datetime = timestamp(index=True)


class LedgerEntry(SQLModel, table=True):
    __tablename__ = "ledger_entries"

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True)
    )
    # No foreign keys: at millions of rows their per-row checks cost more than all the
    # rest of posting. The statement trigger of migration 0006 checks instead, for
    # every inserted entry, that its transaction and its account exist (both tables
    # are append-only, so what exists stays).
    transaction_id: str = Field(index=True, max_length=32)
    account_id: str = Field(index=True, max_length=32)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))  # debit > 0, credit < 0
    currency: str = Field(max_length=3)


class ReconciliationFinding(SQLModel, table=True):
    """A difference between Stripe and the ledger: recorded, never silently overwritten."""

    __tablename__ = "reconciliation_findings"
    __table_args__ = (UniqueConstraint("kind", "reference", name="finding_once"),)

    id: str = Field(primary_key=True, max_length=32)
    # Null: the operator's, of no venue (a Stripe payout of nobody's money, or whose
    # amount is not the sum of its items): the platform sees it, no venue's staff do.
    venue_id: str | None = Field(default=None, foreign_key="venues.id", index=True,
                                 max_length=32)  # fmt: skip
    event_id: str | None = Field(default=None, foreign_key="events.id", index=True, max_length=32)
    kind: str = Field(max_length=40)  # missing_in_stripe | amount_mismatch | unbalanced
    reference: str = Field(max_length=255)  # order:{id}, bt:{id}, refund:{id}
    detail: str = Field(default="", max_length=1000)
    # The money concerned, in minor units: for a mismatch Stripe's figure minus ours,
    # otherwise the amount of the object found; null where no amount applies.
    amount: int | None = Field(default=None, sa_type=BigInteger)
    currency: str | None = Field(default=None, max_length=3)
    created_at: datetime = timestamp()
