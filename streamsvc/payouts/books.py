"""Whose books a payout line pays from, and the ledger moves made in those books.

A line pays the entries of one payable account, and an account lives in one venue's
books: that venue is the line's `venue_id`. For most lines it is the batch's own
venue. A co-producing venue's share of an event is different: the split posts it in
the LEAD venue's books (`payable:venue:{partner}`), yet each venue is paid through its
own payout run, and a partner sees nothing of the lead's other events or parties. So:

- the lead's run leaves out the `payable:venue:{other}` entries of every event that
  venue accepted to co-produce (`_OWN` below);
- the partner's run adds one line per lead venue's books (in its currency), paying its
  due entries of `payable:venue:{partner}` there, for the events it co-produces
  (`_CO_PRODUCED`), to the partner's own confirmed payout details (the venue itself as
  a party of its own books: details a lead may once have typed for it are not used).

A ledger transaction lives in one venue's books (the database refuses a mix), so every
move of such a line is posted in the lead's books: payable -> payouts in transit with
the claims, -> bank when the batch is paid, back to payable when the line fails.
`payout_claims` stays the one rule against paying an entry twice.

Locking: a run takes the advisory lock of every venue whose books it reads (its own,
and the leads whose events it co-produces), in the order of the venue ids, so a
partner's run and a lead's run (or two venues that co-produce each other's events)
wait for each other instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import text
from sqlmodel import Session, col, select

from streamsvc.catalog.coproducers import CoProduction, CoProductionStatus
from streamsvc.finance import accounts
from streamsvc.kit.ids import new_id
from streamsvc.ledger.service import Line, account, post
from streamsvc.payouts.models import PayoutBatch, PayoutLine


def lock_payouts(session: Session, venue_ids: Iterable[str]) -> None:
    """Serialise payout runs and line failures over these venues' books (until the
    transaction ends); always in the same order, so that two holders never deadlock."""
    for venue_id in sorted(set(venue_ids)):
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('payouts:' || :v))"), {"v": venue_id}
        )


def books_of_run(session: Session, venue_id: str) -> list[str]:
    """The venues whose books a run of `venue_id` pays from: its own, and those of the
    lead venues of the events it accepted to co-produce."""
    leads = session.exec(
        select(CoProduction.lead_venue_id)
        .where(
            CoProduction.partner_venue_id == venue_id,
            CoProduction.status == CoProductionStatus.accepted,
        )
        .distinct()
    )
    return sorted({venue_id, *leads})


# The unpaid due entries of a run, read once into a temporary table: the sums and the
# claims come from this same set. Two parts: the party accounts of the venue's own
# books, but for a co-producer's share of an event it co-produces (its own run pays
# that); and the venue's share of the events it co-produces, in the leads' books.
# An event's entries are due once the event ended before the cutoff; a recording's
# (its split transactions name it, finance/subjects.py) once the split was posted
# before it: a recording's sale is complete when it is split, and the cutoff's delay
# gives its refunds the same time to arrive. Entries of neither (the payout moves
# themselves: payable -> in transit, a failed line's return) are never due: they
# cancel each other and pay nothing. One pass over the party entries with a LEFT JOIN
# to events, rather than a second pass for recordings: an event's plan is unchanged.
_OWN = """
SELECT e.id, e.account_id, e.amount
  FROM ledger_accounts a
  JOIN ledger_entries e ON e.account_id = a.id
  JOIN ledger_transactions t ON t.id = e.transaction_id
  LEFT JOIN events ev ON ev.id = t.event_id
 WHERE a.venue_id = :venue_id AND a.currency = :currency AND a.party_type IS NOT NULL
   AND (ev.ends_at < :cutoff OR t.recording_id IS NOT NULL AND t.posted_at < :cutoff)
   AND NOT EXISTS (SELECT 1 FROM payout_claims c WHERE c.entry_id = e.id)
   AND NOT (a.party_type = 'venue' AND a.party_id <> :venue_id AND EXISTS (
            SELECT 1 FROM co_productions cp
             WHERE cp.event_id = t.event_id AND cp.partner_venue_id = a.party_id
               AND cp.status = 'accepted'))
"""
_CO_PRODUCED = """
SELECT e.id, e.account_id, e.amount
  FROM co_productions cp
  JOIN events ev ON ev.id = cp.event_id
  JOIN ledger_accounts a ON a.venue_id = cp.lead_venue_id AND a.code = :own_payable
                        AND a.currency = :currency
  JOIN ledger_transactions t ON t.event_id = cp.event_id AND t.venue_id = cp.lead_venue_id
  JOIN ledger_entries e ON e.transaction_id = t.id AND e.account_id = a.id
 WHERE cp.partner_venue_id = :venue_id AND cp.status = 'accepted'
   AND ev.ends_at < :cutoff
   AND NOT EXISTS (SELECT 1 FROM payout_claims c WHERE c.entry_id = e.id)
"""
_DUE = text(f"CREATE TEMP TABLE payout_due ON COMMIT DROP AS {_OWN} UNION ALL {_CO_PRODUCED}")


def read_due(session: Session, venue_id: str, currency: str, cutoff: datetime) -> None:
    """Fill the temporary table `payout_due` with the run's unpaid due entries."""
    session.execute(text("DROP TABLE IF EXISTS payout_due"))
    own_payable = accounts.party({"type": "venue", "id": venue_id})
    session.execute(
        _DUE,
        {"venue_id": venue_id, "currency": currency, "cutoff": cutoff, "own_payable": own_payable},
    )


# payable -> payouts_in_transit in one venue's books: one entry per pending line of the
# batch in those books and the total in transit, in one INSERT (the ledger's statement
# trigger checks the transaction balances and stays in one venue's books).
_POST_ENTRIES = text("""
INSERT INTO ledger_entries (transaction_id, account_id, amount, currency)
SELECT :txn_id, l.account_id, l.amount, :currency
  FROM payout_lines l
 WHERE l.batch_id = :batch_id AND l.status = 'pending' AND l.venue_id = :books
UNION ALL
SELECT :txn_id, :transit, -:total, :currency
""")


def totals_by_books(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    """The total of (books, amount) pairs per venue books."""
    totals: dict[str, int] = {}
    for books, amount in lines:
        totals[books] = totals.get(books, 0) + amount
    return totals


def reference(batch: PayoutBatch, books: str, step: str = "") -> str:
    """A batch's posting in some books: the batch's own books keep the references
    posted before co-productions were paid apart (`payout:{batch}`, `…:paid`)."""
    where = "" if books == batch.venue_id else f":{books}"
    return f"payout:{batch.id}{where}{f':{step}' if step else ''}"


def _description(batch: PayoutBatch, books: str, what: str) -> str:
    whose = "" if books == batch.venue_id else f" of co-producer {batch.venue_id}"
    return f"payout batch {batch.period}{whose}{what}"


def post_in_transit(
    session: Session, batch: PayoutBatch, totals: dict[str, int], now: datetime
) -> None:
    """payable -> payouts in transit for the batch's pending lines, in each line's
    books (`totals`: what the pending lines pay per books)."""
    for books, total in sorted(totals.items()):
        transit = account(session, books, accounts.PAYOUTS_IN_TRANSIT, batch.currency, now)
        txn_id = new_id("ltx")
        session.execute(
            text("""
            INSERT INTO ledger_transactions
                   (id, venue_id, event_id, reference, currency, description, reverses,
                    posted_at)
            VALUES (:id, :venue_id, NULL, :reference, :currency, :description, NULL, :now)
        """),
            {
                "id": txn_id,
                "venue_id": books,
                "reference": reference(batch, books),
                "currency": batch.currency,
                "now": now,
                "description": _description(batch, books, ": payable to payouts in transit"),
            },
        )
        session.execute(
            _POST_ENTRIES,
            {
                "txn_id": txn_id,
                "batch_id": batch.id,
                "books": books,
                "transit": transit,
                "total": total,
                "currency": batch.currency,
            },
        )


def post_paid(
    session: Session, batch: PayoutBatch, totals: dict[str, int], executed_on: date,
    now: datetime,
) -> None:  # fmt: skip
    """payouts in transit -> bank for the executed lines, in each line's books
    (`totals`: what they paid per books)."""
    for books, amount in sorted(totals.items()):
        if not amount:
            continue
        post(
            session,
            venue_id=books,
            reference=reference(batch, books, "paid"),
            currency=batch.currency,
            now=now,
            lines=[Line(accounts.PAYOUTS_IN_TRANSIT, amount), Line(accounts.BANK, -amount)],
            description=_description(batch, books, f" executed on {executed_on.isoformat()}"),
        )


def books_of_line(session: Session, batch_id: str, line_id: str) -> str | None:
    """The venue whose books a line pays from (None: no such line in the batch)."""
    return session.exec(
        select(PayoutLine.venue_id).where(
            col(PayoutLine.id) == line_id, col(PayoutLine.batch_id) == batch_id
        )
    ).first()
