"""What a signed-in person sees on `/me`: their performer rows and their money only.

Every query here is scoped by the person's performer rows (`Mine`), found again on
every request from the session's e-mail address; an id that is not among them is
"not found", never "forbidden", so nobody learns what exists of another party.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from streamsvc.catalog.models import Performer
from streamsvc.errors import NotFound
from streamsvc.finance.exports import SplitFilter
from streamsvc.ledger.models import LedgerAccount, LedgerEntry
from streamsvc.payouts.models import PayoutBatch, PayoutLine
from streamsvc.venues.models import Venue

PARTY_TYPE = "performer"
_PERIOD = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class Month:
    """A month (in the venue's timezone) in which splits paid the performer."""

    period: str  # YYYY-MM
    currency: str
    amount: int  # the performer's part of that month's splits, minor units


@dataclass
class Mine:
    """One of the person's performer rows, at one venue."""

    performer: Performer
    venue: Venue
    months: list[Month] = field(default_factory=list)
    payable: dict[str, int] = field(default_factory=dict)  # currency -> still owed

    @property
    def party(self) -> str:
        return f"{PARTY_TYPE}:{self.performer.id}"


def performers(session: Session, email: str) -> list[Mine]:
    """Every venue's performer rows with this address, by venue name."""
    query = (
        select(Performer, Venue)
        .join(Venue, col(Venue.id) == col(Performer.venue_id))
        .where(func.lower(Performer.email) == email)
        .order_by(col(Venue.name), col(Performer.name), col(Performer.id))
    )
    return [Mine(performer, venue) for performer, venue in session.exec(query)]


# The performer's part of each month's splits: the entries on its payable account in
# split transactions, as the statement lists them (finance/exports.py).
_MONTHS = text("""
SELECT to_char(t.posted_at AT TIME ZONE :zone, 'YYYY-MM') AS period, t.currency,
       -sum(e.amount) AS amount
  FROM ledger_accounts a
  JOIN ledger_entries e ON e.account_id = a.id
  JOIN ledger_transactions t ON t.id = e.transaction_id
  JOIN split_postings sp ON sp.transaction_id = t.id
 WHERE a.venue_id = :venue_id AND a.party_type = :party_type AND a.party_id = :party_id
 GROUP BY 1, 2
 ORDER BY 1 DESC, 2
""")


def with_money(session: Session, row: Mine) -> Mine:
    """Fill in the row's statement months and what its payable accounts still hold."""
    params = {"zone": row.venue.timezone, "venue_id": row.venue.id,
              "party_type": PARTY_TYPE, "party_id": row.performer.id}  # fmt: skip
    row.months = [
        Month(str(period), str(currency), int(amount))
        for period, currency, amount in session.connection().execute(_MONTHS, params)
    ]
    balances = session.exec(
        select(LedgerAccount.currency, func.coalesce(func.sum(LedgerEntry.amount), 0))
        .join(LedgerEntry, col(LedgerEntry.account_id) == col(LedgerAccount.id), isouter=True)
        .where(
            LedgerAccount.venue_id == row.venue.id,
            LedgerAccount.party_type == PARTY_TYPE,
            LedgerAccount.party_id == row.performer.id,
        )
        .group_by(col(LedgerAccount.currency))
    ).all()
    # Payable accounts are credited: what the venue owes is the negated balance.
    row.payable = {currency: -int(total) for currency, total in balances}
    return row


def month_window(row: Mine, period: str) -> tuple[SplitFilter, date, date]:
    """The statement filter of one month (YYYY-MM) in the venue's timezone; 404 for a
    period that is not a month."""
    match = _PERIOD.fullmatch(period)
    if match is None or not 2000 <= int(match[1]) <= 9998 or not 1 <= int(match[2]) <= 12:
        raise NotFound("No such period.")
    first = date(int(match[1]), int(match[2]), 1)
    after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    zone = ZoneInfo(row.venue.timezone)
    since = datetime.combine(first, time(), zone)
    until = datetime.combine(after, time(), zone)
    last = date.fromordinal(after.toordinal() - 1)
    return SplitFilter(row.venue.id, since, until, party=row.party), first, last


@dataclass(frozen=True)
class Advice:
    """A payment made to the performer (a paid payout line): its advice's heading."""

    line_id: str
    period: str  # the payout run's period, YYYY-MM
    executed_on: date | None  # the bank's execution date
    amount: int
    currency: str


def advices(session: Session, row: Mine) -> list[Advice]:
    """The performer's paid payout lines, newest first."""
    query = (
        select(PayoutLine, PayoutBatch)
        .join(PayoutBatch, col(PayoutBatch.id) == col(PayoutLine.batch_id))
        .where(
            PayoutLine.venue_id == row.venue.id,
            PayoutLine.party_type == PARTY_TYPE,
            PayoutLine.party_id == row.performer.id,
            PayoutLine.status == "paid",
        )
        .order_by(col(PayoutBatch.executed_on).desc(), col(PayoutLine.id))
    )
    return [
        Advice(line.id, batch.period, batch.executed_on, line.amount, batch.currency)
        for line, batch in session.exec(query)
    ]


def own_line(session: Session, row: Mine, line_id: str) -> PayoutLine:
    """One of the performer's paid payout lines, or 404."""
    line = session.get(PayoutLine, line_id)
    if (
        line is None
        or line.venue_id != row.venue.id
        or line.party_type != PARTY_TYPE
        or line.party_id != row.performer.id
        or line.status != "paid"
    ):
        raise NotFound("No such payout advice.")
    return line
