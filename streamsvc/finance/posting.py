"""Posting stored balance transactions to the ledger, set-based.

Each balance transaction becomes one ledger transaction `bt:{id}`:

    stripe_balance (or stripe_pending while the funds are pending)   + net
    stripe_fees:{event}                                               + fee
    sales:{event} | refunds:{event} | disputes:{event}                - amount

so a charge credits sales, a refund debits refunds, a dispute withdrawal debits
disputes, and a failed refund or a won dispute's reinstatement credits them back.
Batches are single INSERT … SELECT statements (the ledger's statement trigger
checks each batch as a whole); a batch is one database transaction, and anything
posted before is skipped by its reference, so a crash between batches loses
nothing and a re-run posts nothing twice. When pending funds become available,
`available:{id}` moves them from stripe_pending to stripe_balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

from streamsvc.finance import accounts
from streamsvc.finance.models import BalanceTransactionRecord
from streamsvc.finance.subjects import Subject
from streamsvc.ledger.service import Line, account, post

BATCH = 100_000


def lock_event_ledger(session: Session, event_id: str) -> None:
    """Serialise posting and splitting of one event or recording (until this transaction
    ends)."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('ledger:' || :e))"),
                    {"e": event_id})  # fmt: skip


# Under the event's ledger lock nobody else posts these rows, so what NOT EXISTS lets
# through is inserted; the transaction id is derived from the reference, so the entries
# need no join back to the inserted transactions.
_POST_BATCH = """
WITH batch AS (
    -- Only the columns posted: both CTEs are materialised, each row once.
    SELECT b.id, b.venue_id, b.event_id, b.recording_id, b.kind, b.amount, b.fee, b.net,
           b.currency, b.status
      FROM stripe_balance_transactions b
     WHERE b.{column} = :subject_id AND b.currency = :currency AND b.id > :after
     ORDER BY b.id
     LIMIT :size
), fresh AS (
    SELECT 'ltx_' || substr(md5('bt:' || b.id), 1, 24) AS txn_id, b.*
      FROM batch b
     WHERE (b.amount <> 0 OR b.fee <> 0)
       AND NOT EXISTS (SELECT 1 FROM ledger_transactions t WHERE t.reference = 'bt:' || b.id)
), txns AS (
    INSERT INTO ledger_transactions
           (id, venue_id, event_id, recording_id, reference, currency, description, reverses,
            posted_at)
    SELECT f.txn_id, f.venue_id, f.event_id, f.recording_id, 'bt:' || f.id, f.currency,
           f.kind || ' as Stripe reports it', NULL, :now
      FROM fresh f
    RETURNING 1
), entries AS (
    INSERT INTO ledger_entries (transaction_id, account_id, amount, currency)
    SELECT f.txn_id, l.account_id, l.amount, f.currency
      FROM fresh f
     CROSS JOIN LATERAL (VALUES
           (CASE WHEN f.status = 'available' THEN :stripe_balance ELSE :stripe_pending END,
            f.net),
           (:stripe_fees, f.fee),
           (CASE f.kind WHEN 'charge' THEN :charge WHEN 'refund' THEN :refund
                        WHEN 'refund_failure' THEN :refund_failure WHEN 'dispute' THEN :dispute
                        ELSE :dispute_reversal END,
            -f.amount)) AS l(account_id, amount)
     WHERE l.amount <> 0
    RETURNING 1
)
SELECT (SELECT count(*) FROM txns), (SELECT max(id) FROM batch)
"""
# Formatted with one of the two subject columns (Subject.column), never with input.
_POST_BATCH_OF = {column: text(_POST_BATCH.format(column=column))
                  for column in ("event_id", "recording_id")}  # fmt: skip


@dataclass(frozen=True)
class Books:
    """Where a subject's balance transactions in one currency are posted: account ids."""

    venue_id: str
    currency: str
    accounts: dict[str, str]  # role (a balance transaction kind, or a Stripe side) -> id


def books_of(session: Session, subject: Subject, now: datetime) -> list[Books]:
    """The accounts of each (venue, currency) the subject's balance transactions are in,
    created on first use."""
    pairs = session.execute(text(
        "SELECT DISTINCT venue_id, currency FROM stripe_balance_transactions "  # noqa: S608
        f"WHERE {subject.column} = :e"
    ), {"e": subject.id}).all()  # fmt: skip
    roles = {"stripe_balance": accounts.STRIPE_BALANCE,
             "stripe_pending": accounts.STRIPE_PENDING,
             "stripe_fees": accounts.stripe_fees(subject.id),
             **accounts.of_kind(subject.id)}  # fmt: skip
    return [
        Books(
            venue_id,
            currency,
            {role: account(session, venue_id, code, currency, now) for role, code in roles.items()},
        )
        for venue_id, currency in pairs
    ]


def post_batch(
    session: Session, subject: Subject, books: Books, after: str, now: datetime
) -> tuple[int, str | None]:
    """Post the next BATCH balance transactions after id `after` that are not posted
    yet: (how many were posted, the last id looked at, None when there are no more)."""
    lock_event_ledger(session, subject.id)
    session.execute(text("SET LOCAL jit = off"))  # compiling costs more than it saves here
    posted, last = session.execute(_POST_BATCH_OF[subject.column], {
        "subject_id": subject.id, "currency": books.currency, "after": after, "size": BATCH,
        "now": now, **books.accounts,
    }).one()  # fmt: skip
    return int(posted), last


def release_pending(session: Session, row: BalanceTransactionRecord, now: datetime) -> bool:
    """Stripe says the funds of `row` are available now: move them out of stripe_pending
    if they were posted there (once). The caller holds the event's ledger lock."""
    posted_pending = session.execute(text("""
        SELECT e.amount FROM ledger_transactions t
          JOIN ledger_entries e ON e.transaction_id = t.id
          JOIN ledger_accounts a ON a.id = e.account_id AND a.code = :pending
         WHERE t.reference = :ref
    """), {"ref": f"bt:{row.id}", "pending": accounts.STRIPE_PENDING}).scalar()  # fmt: skip
    if posted_pending is None:
        return False
    moved = post(
        session, venue_id=row.venue_id, reference=f"available:{row.id}", currency=row.currency,
        lines=[Line(accounts.STRIPE_BALANCE, int(posted_pending)),
               Line(accounts.STRIPE_PENDING, -int(posted_pending))],
        now=now, event_id=row.event_id, recording_id=row.recording_id,
        description="funds became available",
    )  # fmt: skip
    return moved is not None
