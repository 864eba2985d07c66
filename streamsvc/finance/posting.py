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

from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

from streamsvc.finance.models import BalanceTransactionRecord
from streamsvc.ledger.service import Line, account, post

BATCH = 100_000


def accounts_of_kind(event_id: str) -> dict[str, str]:
    """The account that carries the gross of each kind of balance transaction."""
    return {"charge": f"sales:{event_id}", "refund": f"refunds:{event_id}",
            "refund_failure": f"refunds:{event_id}", "dispute": f"disputes:{event_id}",
            "dispute_reversal": f"disputes:{event_id}"}  # fmt: skip


def lock_event_ledger(session: Session, event_id: str) -> None:
    """Serialise posting and splitting of one event (until this transaction ends)."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('ledger:' || :e))"),
                    {"e": event_id})  # fmt: skip


_POST_BATCH = text("""
WITH batch AS (
    SELECT b.* FROM stripe_balance_transactions b
     WHERE b.event_id = :event_id AND (b.amount <> 0 OR b.fee <> 0)
       AND NOT EXISTS (SELECT 1 FROM ledger_transactions t WHERE t.reference = 'bt:' || b.id)
     ORDER BY b.id
     LIMIT :size
), txns AS (
    INSERT INTO ledger_transactions
           (id, venue_id, event_id, reference, currency, description, reverses, posted_at)
    SELECT 'ltx_' || substr(md5('bt:' || b.id), 1, 24), b.venue_id, b.event_id, 'bt:' || b.id,
           b.currency, b.kind || ' as Stripe reports it', NULL, :now
      FROM batch b
    ON CONFLICT (reference) DO NOTHING
    RETURNING id, reference
), lines AS (
    SELECT t.id AS transaction_id, b.venue_id, b.currency, l.code, l.amount
      FROM txns t
      JOIN batch b ON t.reference = 'bt:' || b.id
     CROSS JOIN LATERAL (VALUES
           (CASE WHEN b.status = 'available' THEN 'stripe_balance' ELSE 'stripe_pending' END,
            b.net),
           ('stripe_fees:' || b.event_id, b.fee),
           (CASE b.kind WHEN 'charge' THEN 'sales:'
                        WHEN 'refund' THEN 'refunds:' WHEN 'refund_failure' THEN 'refunds:'
                        ELSE 'disputes:' END || b.event_id,
            -b.amount)) AS l(code, amount)
     WHERE l.amount <> 0
), entries AS (
    INSERT INTO ledger_entries (transaction_id, account_id, amount, currency)
    SELECT lines.transaction_id, a.id, lines.amount, lines.currency
      FROM lines
      JOIN ledger_accounts a
        ON a.venue_id = lines.venue_id AND a.code = lines.code AND a.currency = lines.currency
    RETURNING 1
)
SELECT (SELECT count(*) FROM txns), (SELECT count(*) FROM entries)
""")


def ensure_accounts(session: Session, event_id: str, now: datetime) -> None:
    """Create the accounts a batch may post to (the batch joins them by code)."""
    pairs = session.execute(text(
        "SELECT DISTINCT venue_id, currency FROM stripe_balance_transactions WHERE event_id = :e"
    ), {"e": event_id}).all()  # fmt: skip
    codes = {"stripe_balance", "stripe_pending", f"stripe_fees:{event_id}",
             *accounts_of_kind(event_id).values()}  # fmt: skip
    for venue_id, currency in pairs:
        for code in sorted(codes):
            account(session, venue_id, code, currency, now)


def post_batch(session: Session, event_id: str, now: datetime) -> int:
    """Post up to BATCH unposted balance transactions of the event; how many were."""
    lock_event_ledger(session, event_id)
    ensure_accounts(session, event_id, now)
    posted, _ = session.execute(_POST_BATCH, {"event_id": event_id, "size": BATCH,
                                              "now": now}).one()  # fmt: skip
    return int(posted)


def release_pending(session: Session, row: BalanceTransactionRecord, now: datetime) -> bool:
    """Stripe says the funds of `row` are available now: move them out of stripe_pending
    if they were posted there (once). The caller holds the event's ledger lock."""
    posted_pending = session.execute(text("""
        SELECT e.amount FROM ledger_transactions t
          JOIN ledger_entries e ON e.transaction_id = t.id
          JOIN ledger_accounts a ON a.id = e.account_id AND a.code = 'stripe_pending'
         WHERE t.reference = :ref
    """), {"ref": f"bt:{row.id}"}).scalar()  # fmt: skip
    if posted_pending is None:
        return False
    moved = post(
        session, venue_id=row.venue_id, reference=f"available:{row.id}", currency=row.currency,
        lines=[Line("stripe_balance", int(posted_pending)),
               Line("stripe_pending", -int(posted_pending))],
        now=now, event_id=row.event_id, description="funds became available",
    )  # fmt: skip
    return moved is not None
