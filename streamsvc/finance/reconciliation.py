"""Reconciling an event: collect from Stripe, post, split, then check the ledger.

1. collect: every balance transaction of the event's charges, refunds and
   disputes, stored as Stripe reports it (`collect.py`);
2. post: each one to the ledger once, set-based (`posting.py`);
3. split: the waterfall per order under its rule version (`splitting.py`);
4. check: the ledger holds exactly what the balance transactions say, account by
   account; any difference is a finding.

Every step is idempotent and commits in small units, so a worker killed anywhere
and run again ends with the same ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

from streamsvc.catalog.models import Event
from streamsvc.db import Database
from streamsvc.finance import accounts
from streamsvc.finance.collect import Progress, collect_event
from streamsvc.finance.findings import record_finding
from streamsvc.finance.posting import books_of, post_batch
from streamsvc.finance.splitting import split_event
from streamsvc.ledger.service import balances
from streamsvc.payments.gateway import BalanceReader

KIND = "reconciliation"  # the job kind


@dataclass
class Outcome:
    asked: int = 0  # questions to Stripe
    stored: int = 0  # balance transactions newly stored
    posted: int = 0  # balance transactions newly posted
    splits: int = 0  # split transactions posted
    findings: int = 0

    def add(self, other: Outcome) -> None:
        for field in ("asked", "stored", "posted", "splits", "findings"):
            setattr(self, field, getattr(self, field) + getattr(other, field))


def reconcile_event(
    database: Database, gateway: BalanceReader, event_id: str, now: datetime, *,
    period: str, progress: Progress = lambda done, total: None,
) -> Outcome:  # fmt: skip
    collected = collect_event(database, gateway, event_id, now, progress)
    outcome = Outcome(asked=collected.asked, stored=collected.stored,
                      findings=collected.findings)  # fmt: skip
    outcome.add(post_and_split(database, event_id, now, period=period))
    return outcome


def post_and_split(database: Database, event_id: str, now: datetime, *, period: str) -> Outcome:
    """Steps 2 to 4, from what is stored (no Stripe calls)."""
    outcome = Outcome()
    with database.unit_of_work() as uow:
        all_books = books_of(uow.session, event_id, now)
    for books in all_books:
        after: str | None = ""
        while after is not None:  # keyset batches by balance transaction id
            with database.unit_of_work() as uow:
                posted, after = post_batch(uow.session, event_id, books, after, now)
            outcome.posted += posted
    with database.unit_of_work() as uow:
        event = uow.session.get(Event, event_id)
        if event is None:
            return outcome
        outcome.splits = split_event(uow.session, event, period, now)
    with database.unit_of_work() as uow:
        outcome.findings += check_ledger(uow.session, event, now)
    return outcome


def check_ledger(session: Session, event: Event, now: datetime) -> int:
    """Compare the event's accounts with its balance transactions; findings recorded.

    The gross of each kind and the fees are compared account by account; the Stripe
    side needs no check of its own, as every posting balances (the database sees to
    that), so it is what the other sides say it is.
    """
    kinds, fees = accounts.of_kind(event.id), accounts.stripe_fees(event.id)
    reported = dict.fromkeys([*kinds.values(), fees], 0)
    rows = session.execute(text("""
        SELECT kind, sum(amount), sum(fee) FROM stripe_balance_transactions
         WHERE event_id = :e AND currency = :c GROUP BY kind
    """), {"e": event.id, "c": event.currency})  # fmt: skip
    for kind, amount, fee in rows:
        reported[kinds[kind]] -= int(amount)
        reported[fees] += int(fee)
    held = balances(session, event.venue_id, event.currency, reported)
    found = 0
    for code, amount in sorted(reported.items()):
        if held.get(code, 0) != amount:
            found += record_finding(
                session, event.venue_id, event.id, kind="ledger_mismatch",
                reference=f"event:{event.id}:{code}:{amount}",
                detail=f"{code}: Stripe reports {amount}, the ledger holds {held.get(code, 0)}",
                now=now, amount=amount - held.get(code, 0), currency=event.currency,
            )  # fmt: skip
    return found
