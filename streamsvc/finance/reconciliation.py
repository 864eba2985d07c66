"""Reconciling an event or a recording: collect from Stripe, post, split, then check the
ledger.

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

from streamsvc.db import Database
from streamsvc.finance import accounts, subjects
from streamsvc.finance.collect import Progress, collect
from streamsvc.finance.findings import record_finding
from streamsvc.finance.posting import books_of, post_batch
from streamsvc.finance.splitting import split
from streamsvc.finance.subjects import Kind, Subject
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
    return reconcile(database, gateway, "event", event_id, now, period=period, progress=progress)


def reconcile(
    database: Database, gateway: BalanceReader, kind: Kind, subject_id: str, now: datetime, *,
    period: str, progress: Progress = lambda done, total: None,
) -> Outcome:  # fmt: skip
    """Reconcile an event or a recording (finance/subjects.py)."""
    collected = collect(database, gateway, kind, subject_id, now, progress=progress)
    outcome = Outcome(asked=collected.asked, stored=collected.stored,
                      findings=collected.findings)  # fmt: skip
    outcome.add(post_and_split(database, subject_id, now, period=period, kind=kind))
    return outcome


def post_and_split(
    database: Database, subject_id: str, now: datetime, *, period: str, kind: Kind = "event"
) -> Outcome:
    """Steps 2 to 4, from what is stored (no Stripe calls)."""
    outcome = Outcome()
    with database.unit_of_work() as uow:
        subject = subjects.load(uow.session, kind, subject_id)
        if subject is None:
            return outcome
        all_books = books_of(uow.session, subject, now)
    for books in all_books:
        after: str | None = ""
        while after is not None:  # keyset batches by balance transaction id
            with database.unit_of_work() as uow:
                posted, after = post_batch(uow.session, subject, books, after, now)
            outcome.posted += posted
    with database.unit_of_work() as uow:
        outcome.splits = split(uow.session, subject, period, now)
    with database.unit_of_work() as uow:
        outcome.findings += check_ledger(uow.session, subject, now)
    return outcome


def check_ledger(session: Session, subject: Subject, now: datetime) -> int:
    """Compare the subject's accounts with its balance transactions; findings recorded.

    The gross of each kind and the fees are compared account by account; the Stripe
    side needs no check of its own, as every posting balances (the database sees to
    that), so it is what the other sides say it is.
    """
    kinds, fees = accounts.of_kind(subject.id), accounts.stripe_fees(subject.id)
    reported = dict.fromkeys([*kinds.values(), fees], 0)
    rows = session.execute(text(f"""
        SELECT kind, sum(amount), sum(fee) FROM stripe_balance_transactions
         WHERE {subject.column} = :e AND currency = :c GROUP BY kind
    """), {"e": subject.id, "c": subject.currency})  # noqa: S608  # fmt: skip
    for kind, amount, fee in rows:
        reported[kinds[kind]] -= int(amount)
        reported[fees] += int(fee)
    held = balances(session, subject.venue_id, subject.currency, reported)
    found = 0
    for code, amount in sorted(reported.items()):
        if held.get(code, 0) != amount:
            found += record_finding(
                session, subject.venue_id, subject.columns()["event_id"], kind="ledger_mismatch",
                reference=f"{subject.kind}:{subject.id}:{code}:{amount}",
                detail=f"{code}: Stripe reports {amount}, the ledger holds {held.get(code, 0)}",
                now=now, amount=amount - held.get(code, 0), currency=subject.currency,
            )  # fmt: skip
    return found
