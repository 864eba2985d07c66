"""What the platform reads of the ledger: each venue's gross and the platform's fees
per period, and the platform's own statement (its fees per venue and event).

Everything here is read from the ledger, never recomputed: the platform fee is what
the split postings credited to each venue's `platform_fees` account
(finance/accounts.py), the gross what the charges credited to the events' `sales:`
accounts. A period is a range of days in the platform's timezone
(`STREAMSVC_PLATFORM_TIMEZONE`, UTC unless set: the platform serves venues in many
timezones, and its own books close on its own midnight), `to` included; an entry
belongs to the day it was posted there.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, PrivateAttr, model_validator
from sqlalchemy import func
from sqlmodel import Session, col, select

from streamsvc.catalog.models import Event
from streamsvc.errors import NotFound, ValidationFailed
from streamsvc.finance import accounts
from streamsvc.finance.export_files import safe_text
from streamsvc.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from streamsvc.venues.models import Venue

MAX_PERIOD = timedelta(days=3 * 366)


class Period(BaseModel):
    """Days `from` to `to` (both included), in the platform's timezone (`in_zone`)."""

    model_config = {"extra": "forbid", "populate_by_name": True}

    from_: date = Field(alias="from")
    to: date
    # Not a query parameter: the installation's setting, never the caller's choice.
    _zone: str = PrivateAttr(default="UTC")

    def in_zone(self, zone: str) -> Period:
        """The same days, as midnights of `zone`."""
        self._zone = zone
        return self

    @model_validator(mode="after")
    def _order(self) -> Period:
        if self.to < self.from_:
            raise ValidationFailed("`to` is before `from`.", fields={"to": "on or after from"})
        if self.to - self.from_ > MAX_PERIOD:
            raise ValidationFailed("The period is too long.", fields={"to": "at most three years"})
        return self

    @classmethod
    def month_of(cls, now: datetime, zone: str = "UTC") -> Period:
        """The month `now` is in (in `zone`), to its last day."""
        first = now.astimezone(ZoneInfo(zone)).date().replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        return cls(from_=first, to=last).in_zone(zone)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.from_, time(), ZoneInfo(self._zone)).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the period."""
        last = self.to + timedelta(days=1)
        return datetime.combine(last, time(), ZoneInfo(self._zone)).astimezone(UTC)


@dataclass
class FeeLine:
    """The platform's fees of one event (event None: posted to no event)."""

    venue_id: str
    venue_name: str
    event_id: str | None
    event_title: str
    currency: str
    amount: int  # minor units; what the platform earned (a reversal makes it smaller)


@dataclass
class VenueFigures:
    """A venue on the platform console: its events and its money in the period."""

    venue: Venue
    events: int
    gross: dict[str, int] = field(default_factory=dict)  # by currency
    fees: dict[str, int] = field(default_factory=dict)  # by currency


def _credits(session: Session, period: Period, code: Any, venue_id: str | None = None) -> Any:
    """(venue, event, currency, credited) of the accounts `code` selects, in the period."""
    query = (
        select(
            LedgerTransaction.venue_id,
            LedgerTransaction.event_id,
            LedgerAccount.currency,
            func.sum(LedgerEntry.amount),
        )
        .join(LedgerTransaction, col(LedgerTransaction.id) == col(LedgerEntry.transaction_id))
        .join(LedgerAccount, col(LedgerAccount.id) == col(LedgerEntry.account_id))
        .where(
            code,
            col(LedgerTransaction.posted_at) >= period.start,
            col(LedgerTransaction.posted_at) < period.end,
        )
        .group_by(
            col(LedgerTransaction.venue_id),
            col(LedgerTransaction.event_id),
            col(LedgerAccount.currency),
        )
    )
    if venue_id is not None:
        query = query.where(col(LedgerTransaction.venue_id) == venue_id)
    # Credits are negative in the ledger: what was earned is their opposite.
    return [(v, e, c, -int(total)) for v, e, c, total in session.exec(query)]


def _fee_code() -> Any:
    return col(LedgerAccount.code) == accounts.PLATFORM_FEES


def _sales_code() -> Any:
    return col(LedgerAccount.code).startswith(accounts.sales(""))


def fee_statement(session: Session, period: Period) -> list[FeeLine]:
    """The platform's fees per venue and event in the period, by venue name, then start."""
    found = [row for row in _credits(session, period, _fee_code()) if row[3]]
    venues = {
        v.id: v.name
        for v in session.exec(select(Venue).where(col(Venue.id).in_({row[0] for row in found})))
    }
    events = {
        e.id: e
        for e in session.exec(
            select(Event).where(col(Event.id).in_({row[1] for row in found if row[1]}))
        )
    }
    lines = [
        FeeLine(
            venue_id=venue_id,
            venue_name=venues.get(venue_id, venue_id),
            event_id=event_id,
            event_title=events[event_id].title if event_id in events else "",
            currency=currency,
            amount=amount,
        )
        for venue_id, event_id, currency, amount in found
    ]
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(
        lines,
        key=lambda line: (
            line.venue_name.lower(),
            line.venue_id,
            events[line.event_id].starts_at if line.event_id in events else far,
            line.event_id or "",
            line.currency,
        ),
    )


def totals(lines: list[FeeLine]) -> dict[str, int]:
    """The fees by currency (never added across currencies)."""
    summed: dict[str, int] = defaultdict(int)
    for line in lines:
        summed[line.currency] += line.amount
    return dict(sorted(summed.items()))


def venues_overview(session: Session, period: Period, limit: int = 1000) -> list[VenueFigures]:
    """Every venue (by name) with its number of events, and its gross and platform fees
    in the period, by currency."""
    venues = list(session.exec(select(Venue).order_by(col(Venue.name), col(Venue.id)).limit(limit)))
    counts = dict(session.exec(select(Event.venue_id, func.count()).group_by(Event.venue_id)).all())
    figures = {v.id: VenueFigures(venue=v, events=int(counts.get(v.id, 0))) for v in venues}
    for into, code in (("gross", _sales_code()), ("fees", _fee_code())):
        for venue_id, _event, currency, amount in _credits(session, period, code):
            if venue_id in figures:
                money: dict[str, int] = getattr(figures[venue_id], into)
                money[currency] = money.get(currency, 0) + amount
    return list(figures.values())


@dataclass
class EventFigures:
    event: Event
    gross: int
    fees: int


def venue_events(
    session: Session, venue_id: str, period: Period
) -> tuple[Venue, list[EventFigures]]:
    """One venue and each of its events (latest first) with its gross and platform fees
    in the period, in the event's currency."""
    venue = session.get(Venue, venue_id)
    if venue is None:
        raise NotFound("No such venue.")
    events = list(
        session.exec(
            select(Event)
            .where(Event.venue_id == venue_id)
            .order_by(col(Event.starts_at).desc(), col(Event.id))
            .limit(500)
        )
    )
    gross: dict[tuple[str | None, str], int] = defaultdict(int)
    fees: dict[tuple[str | None, str], int] = defaultdict(int)
    for into, code in ((gross, _sales_code()), (fees, _fee_code())):
        for _venue, event_id, currency, amount in _credits(session, period, code, venue_id):
            into[(event_id, currency)] += amount
    return venue, [
        EventFigures(e, gross[(e.id, e.currency)], fees[(e.id, e.currency)]) for e in events
    ]


HEADER = ("venue_id", "venue", "event_id", "event", "currency", "platform_fee")


def statement_csv(lines: list[FeeLine]) -> str:
    """The statement as CSV: amounts in minor units (as every export), text made safe
    from spreadsheet formulas."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for line in lines:
        writer.writerow(
            [
                line.venue_id,
                safe_text(line.venue_name),
                line.event_id or "",
                safe_text(line.event_title),
                line.currency,
                line.amount,
            ]
        )
    return out.getvalue()
