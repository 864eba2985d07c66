"""A payout run: every party's payable balance, paid in a batch, posted in the same
transaction. Also the batch's later steps that move money: mark paid, mark failed.

WHAT IS PAID. A party is owed the entries of its payable account (in one venue's books
and currency) whose ledger transaction belongs to an event that ended before the
run's cutoff, or is a recording's split posted before it (a recording's sale is
complete when it is split; books.py): the cutoff is the end of the period (in the
venue's timezone) or `delay_days` before now, whichever is earlier, so refunds and
disputes have time to arrive. Entries of events, and recordings' splits, still inside
that window wait for a later run. What is owed is the sum of the unpaid due entries:
a refund after an earlier payout is a negative entry (a later split) that nets against
what the party earns later.

CO-PRODUCTIONS. Each venue is paid through its own run. A co-producing venue's share
of an event is payable in the lead venue's books, but the lead's run leaves it out;
the partner's run pays it, one line per lead venue's books, to the partner's own
confirmed details, and posts its ledger moves in the lead's books (books.py). A
line's `venue_id` is the venue whose books it pays from.

LINES. One line per party with unpaid due entries:
  pending  the sum is at least the threshold and the party's details are valid,
           confirmed and payable by the rail: it claims its entries and is paid.
  held     the details are missing, invalid, unconfirmed or not payable by the rail:
           it claims nothing (the amount stays payable) and is paid by the first run
           after the details are put right.
  carried  the sum is negative (a refund after a payout) or under the threshold: it
           claims nothing, so the entries are netted against later amounts; the line
           records the carry for the people reading the batch.

NOTHING PAID TWICE, WHATEVER RUNS CONCURRENTLY OR IS RETRIED. The rule is the
database's: `payout_claims` has the ledger entry as its primary key, and a pending
line claims every entry it pays in the transaction that creates it. A second line
claiming the same entry fails on that key, so its whole run rolls back; a retried run
finds the entries claimed and owes nothing. Runs also take the advisory transaction
lock of every venue whose books they read first (books.py: in a fixed order), so that
a concurrent run waits and then sees the claims
(instead of failing on the key), and the due entries are read once into a temporary
table, so that the sum paid and the entries claimed are the same set even while
splits post new entries. The ledger moves with the claims: payable -> payouts in
transit for the batch's total, in the same transaction. A failed line gives its
claims up and returns its amount to payable, so the next run pays it again.
A unique (period, party) would not do: a held party must be payable by a second run
for the same period, once its details are right.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text
from sqlmodel import Session, col, select

from streamsvc import audit
from streamsvc.db import emit
from streamsvc.errors import Conflict, NotFound, ValidationFailed
from streamsvc.finance import accounts
from streamsvc.kit.ids import new_id
from streamsvc.ledger.service import Line, post
from streamsvc.payouts import books
from streamsvc.payouts.details import hold_reason
from streamsvc.payouts.events import PayoutBatchPaid
from streamsvc.payouts.models import PayoutBatch, PayoutDetails, PayoutLine
from streamsvc.payouts.rail import PayoutRail
from streamsvc.venues.models import Venue

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
NEGATIVE, BELOW_THRESHOLD = "negative", "below_threshold"


@dataclass(frozen=True)
class Policy:
    """When a balance is due and worth a transfer (STREAMSVC_PAYOUT_DELAY_DAYS, _THRESHOLD)."""

    delay_days: int = 14
    threshold: int = 1000


class NothingDue(Conflict):
    code = "payout_nothing_due"


def lock_venue_payouts(session: Session, venue_id: str) -> None:
    """Serialise payout runs and line failures of one venue (until the transaction ends)."""
    books.lock_payouts(session, [venue_id])


def cutoff_of(period: str, timezone: str, now: datetime, delay_days: int) -> datetime:
    """Events that ended, and recordings' splits posted, before this are due: the
    period's end, or the delay before now."""
    found = PERIOD.fullmatch(period)
    if found is None:
        raise ValidationFailed("The form has errors.", fields={"period": "a month as YYYY-MM"})
    year, month = int(found.group(1)), int(found.group(2))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    end = datetime(year, month, 1, tzinfo=ZoneInfo(timezone))
    return min(end, now - timedelta(days=delay_days))


# What each party is owed: the due entries books.read_due put in `payout_due`, summed
# per payable account (so per party and books).
_OWED = text("""
SELECT a.id, a.venue_id, a.party_type, a.party_id, -sum(d.amount) AS owed,
       coalesce(p.name, v.name, r.name, a.party_id) AS name
  FROM payout_due d
  JOIN ledger_accounts a ON a.id = d.account_id
  LEFT JOIN performers p ON a.party_type = 'performer' AND p.id = a.party_id
  LEFT JOIN venues v ON a.party_type = 'venue' AND v.id = a.party_id
  LEFT JOIN rights_holders r ON a.party_type = 'rights_holder' AND r.id = a.party_id
 GROUP BY a.id, a.venue_id, a.party_type, a.party_id, p.name, v.name, r.name
 ORDER BY a.party_type, a.party_id, a.venue_id
""")

_CLAIM = text("""
INSERT INTO payout_claims (entry_id, line_id)
SELECT d.id, l.id
  FROM payout_due d
  JOIN payout_lines l ON l.account_id = d.account_id
 WHERE l.batch_id = :batch_id AND l.status = 'pending'
""")


def run(
    session: Session,
    venue_id: str,
    period: str,
    *,
    rail: PayoutRail,
    policy: Policy,
    created_by: str,
    now: datetime,
) -> PayoutBatch:
    """Create the period's batch of the venue (module docstring); NothingDue when no
    party is owed anything to pay or hold."""
    venue = session.get(Venue, venue_id)
    if venue is None:
        raise NotFound("No such venue.")
    cutoff = cutoff_of(period, venue.timezone, now, policy.delay_days)
    currency = venue.currency
    books.lock_payouts(session, books.books_of_run(session, venue_id))
    books.read_due(session, venue_id, currency, cutoff)
    owed = session.execute(_OWED).all()
    details = {
        (d.party_type, d.party_id): d
        for d in session.exec(select(PayoutDetails).where(PayoutDetails.venue_id == venue_id))
    }
    batch_id = new_id("pob")
    lines: list[dict[str, object]] = []
    for account_id, books_id, party_type, party_id, owed_sum, name in owed:
        amount = int(owed_sum)
        if amount == 0:
            continue  # nothing owed either way: the entries wait, costing nothing
        # A co-production line's party is this venue: paid to its own details.
        found = details.get((party_type, party_id))
        line: dict[str, object] = {
            "id": new_id("pol"),
            "batch_id": batch_id,
            "venue_id": books_id,  # whose books the entries live in
            "account_id": account_id,
            "party_type": party_type,
            "party_id": party_id,
            "party_name": str(name)[:200],
            "status": "pending",
            "amount": amount,
            "left_payable": 0,
            "reason": "",
            "holder": "",
            "iban": "",
            "bic": None,
        }
        reason = hold_reason(found) or (rail.refusal(found.iban, currency) if found else None)
        if amount < 0 or amount < policy.threshold:
            line.update(
                status="carried",
                amount=0,
                left_payable=amount,
                reason=NEGATIVE if amount < 0 else BELOW_THRESHOLD,
            )
        elif reason is not None:
            line.update(status="held", amount=0, left_payable=amount, reason=reason)
        else:
            assert found is not None
            line.update(holder=found.holder, iban=found.iban, bic=found.bic)
        lines.append(line)
    pending = [line for line in lines if line["status"] == "pending"]
    held = [line for line in lines if line["status"] == "held"]
    if not pending and not held:
        raise NothingDue("Nothing is due for this period: every party is paid up.")
    total = sum(int(str(line["amount"])) for line in pending)
    batch = PayoutBatch(
        id=batch_id,
        venue_id=venue_id,
        currency=currency,
        period=period,
        cutoff=cutoff,
        status="awaiting_approval",
        total=total,
        rail=rail.name,
        created_by=created_by,
        created_at=now,
    )
    session.add(batch)
    session.flush()
    session.execute(insert(PayoutLine), lines)
    if pending:
        session.execute(_CLAIM, {"batch_id": batch_id})
        totals = books.totals_by_books((str(p["venue_id"]), int(str(p["amount"]))) for p in pending)
        books.post_in_transit(session, batch, totals, now)
    audit.record(
        session,
        venue_id=venue_id,
        action="payout_batch.created",
        object_type="payout_batch",
        object_id=batch_id,
        changes={
            "period": period,
            "total": total,
            "currency": currency,
            "lines": len(pending),
            "held": len(held),
            "carried": len(lines) - len(pending) - len(held),
        },
    )
    return batch


def batch_of(session: Session, venue_id: str, batch_id: str, *, lock: bool = False) -> PayoutBatch:
    query = select(PayoutBatch).where(PayoutBatch.id == batch_id, PayoutBatch.venue_id == venue_id)
    found = session.exec(query.with_for_update() if lock else query).first()
    if found is None:
        raise NotFound("No such payout batch.")
    return found


def lines_of(
    session: Session, batch_id: str, statuses: Sequence[str] | None = None
) -> list[PayoutLine]:
    query = select(PayoutLine).where(PayoutLine.batch_id == batch_id)
    if statuses is not None:
        query = query.where(col(PayoutLine.status).in_(list(statuses)))
    return list(session.exec(query.order_by(col(PayoutLine.party_name), col(PayoutLine.id))))


def payable_lines(session: Session, batch_id: str) -> list[PayoutLine]:
    """The lines the rail pays: pending, or paid (a file downloaded again)."""
    return lines_of(session, batch_id, ("pending", "paid"))


def mark_paid(
    session: Session,
    venue_id: str,
    batch_id: str,
    *,
    executed_on: date,
    paid_by: str,
    now: datetime,
) -> PayoutBatch:
    """The bank executed the approved batch on `executed_on`: payouts in transit -> bank
    for its pending lines, which become paid; their advices are mailed after the commit."""
    batch = batch_of(session, venue_id, batch_id, lock=True)
    if batch.status == "paid":
        return batch
    if batch.status != "approved":
        raise Conflict(
            "The batch must be approved before it is marked paid.", code="payout_not_approved"
        )
    if executed_on > now.date() + timedelta(days=1) or executed_on < batch.created_at.date():
        raise ValidationFailed(
            "The form has errors.", fields={"executed_on": "between the batch's day and today"}
        )
    pending = lines_of(session, batch.id, ("pending",))
    amount = sum(line.amount for line in pending)
    totals = books.totals_by_books((line.venue_id, line.amount) for line in pending)
    books.post_paid(session, batch, totals, executed_on, now)
    for line in pending:
        line.status = "paid"
        session.add(line)
    batch.status, batch.executed_on, batch.paid_by, batch.paid_at = (
        "paid",
        executed_on,
        paid_by,
        now,
    )
    session.add(batch)
    audit.record(
        session,
        venue_id=venue_id,
        action="payout_batch.paid",
        object_type="payout_batch",
        object_id=batch.id,
        changes={"executed_on": executed_on.isoformat(), "amount": amount, "lines": len(pending)},
    )
    emit(session, PayoutBatchPaid(batch_id=batch.id))
    return batch


def mark_failed(
    session: Session,
    venue_id: str,
    batch_id: str,
    line_id: str,
    *,
    reason: str,
    now: datetime,
) -> PayoutLine:
    """One transfer did not arrive (refused before execution, or returned by the
    bank): its amount goes back to the party's payable account and its entries are
    given up, so the next run pays them again."""
    # Both the batch's venue and the books the line pays from (a co-production line's
    # are the lead venue's), locked in the order every run takes them.
    found_books = books.books_of_line(session, batch_id, line_id)
    books.lock_payouts(session, {venue_id, found_books or venue_id})
    batch = batch_of(session, venue_id, batch_id, lock=True)
    line = session.exec(
        select(PayoutLine)
        .where(PayoutLine.id == line_id, PayoutLine.batch_id == batch.id)
        .with_for_update()
    ).first()
    if line is None:
        raise NotFound("No such payout line.")
    if line.status == "failed":
        return line
    if line.status not in ("pending", "paid"):
        raise Conflict(
            "Only a line that is paid or on its way can fail.", code="payout_line_not_paid"
        )
    # Before execution the money is still in transit; after it, the bank gave it back.
    source = accounts.PAYOUTS_IN_TRANSIT if line.status == "pending" else accounts.BANK
    payable = f"{accounts.PARTY_PREFIX}{line.party_type}:{line.party_id}"
    post(
        session,
        venue_id=line.venue_id,  # the books its entries live in
        reference=f"payout-line:{line.id}:failed",
        currency=batch.currency,
        now=now,
        lines=[
            Line(source, line.amount),
            Line(payable, -line.amount, (line.party_type, line.party_id)),
        ],
        description=f"payout to {line.party_name} failed: back to payable",
    )
    session.execute(text("DELETE FROM payout_claims WHERE line_id = :l"), {"l": line.id})
    before = line.status
    line.status, line.failed_at, line.reason = "failed", now, reason[:40]
    session.add(line)
    audit.record(
        session,
        venue_id=venue_id,
        action="payout_line.failed",
        object_type="payout_line",
        object_id=line.id,
        changes={
            "batch": batch.id,
            "party": f"{line.party_type}:{line.party_id}",
            "amount": line.amount,
            "was": before,
            "reason": line.reason,
        },
    )
    return line


def claimed_total(session: Session, line_id: str) -> int:
    """What the line's claimed entries owe (equals its amount: a test's check)."""
    total = session.execute(
        text(
            "SELECT -coalesce(sum(e.amount), 0) FROM payout_claims c "
            "JOIN ledger_entries e ON e.id = c.entry_id WHERE c.line_id = :l"
        ),
        {"l": line_id},
    ).scalar_one()
    return int(total)
