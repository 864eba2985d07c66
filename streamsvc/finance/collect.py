"""Collecting an event's (or a recording's) balance transactions from Stripe.

What is asked: every paid order's charge, every refund Stripe knows (and its
failure, when it failed after moving money), every dispute (its withdrawal with
the dispute fee, and its reinstatement when won); again later for anything whose
funds were still pending. What is already stored and final is not asked again.

Each answer is stored in its own short transaction, so a crash at any point loses
at most the answer in flight, and a re-run asks only for what is still missing.
What disagrees with our records, or with what Stripe said before, is a finding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlmodel import Session

from streamsvc.db import Database
from streamsvc.finance import subjects
from streamsvc.finance.findings import record_finding
from streamsvc.finance.models import BalanceTransactionRecord
from streamsvc.finance.posting import lock_event_ledger, release_pending
from streamsvc.finance.subjects import Kind, Subject
from streamsvc.payments.gateway import BalanceReader, BalanceTransaction

Progress = Callable[[int, int], None]  # (done, total)
PROGRESS_EVERY = 50


@dataclass(frozen=True)
class Ask:
    """One question to Stripe: the balance transactions of a charge, refund or dispute."""

    what: str  # charge | refund | dispute
    order_id: str
    source: str  # payment intent, Stripe refund id or dispute id
    expected: int  # what we recorded (gross, positive), to compare with Stripe's figure
    currency: str
    our_ref: str  # order:{id}, refund:{id}, dispute:{id}: how findings name it
    must_exist: bool  # a paid charge or a succeeded refund has moved money


@dataclass
class Collected:
    asked: int = 0
    stored: int = 0
    findings: int = 0


def collect_event(
    database: Database, gateway: BalanceReader, event_id: str, now: datetime,
    progress: Progress = lambda done, total: None,
) -> Collected:  # fmt: skip
    return collect(database, gateway, "event", event_id, now, progress=progress)


def collect(
    database: Database, gateway: BalanceReader, kind: Kind, subject_id: str, now: datetime, *,
    progress: Progress = lambda done, total: None,
) -> Collected:  # fmt: skip
    """Collect the balance transactions of an event's or a recording's orders."""
    with database.unit_of_work() as uow:
        subject = subjects.load(uow.session, kind, subject_id)
        if subject is None:
            return Collected()
        asks = _questions(uow.session, subject)
    outcome = Collected()
    for number, ask in enumerate(asks, start=1):
        txns = _ask(gateway, ask)
        with database.unit_of_work() as uow:
            stored, found = _store(uow.session, ask, txns, subject, now)
        outcome.asked += 1
        outcome.stored += stored
        outcome.findings += found
        if number % PROGRESS_EVERY == 0 or number == len(asks):
            progress(number, len(asks))
    return outcome


_QUESTIONS = """
SELECT 'charge', o.id, o.payment_intent_id, o.paid_amount, o.currency, 'order:' || o.id, true
  FROM orders o
 WHERE o.{column} = :e AND o.paid_amount > 0 AND o.payment_intent_id IS NOT NULL
   AND (NOT EXISTS (SELECT 1 FROM stripe_balance_transactions b
                     WHERE b.order_id = o.id AND b.kind = 'charge')
        OR EXISTS (SELECT 1 FROM stripe_balance_transactions b
                    WHERE b.order_id = o.id AND b.kind = 'charge' AND b.status = 'pending'))
UNION ALL
SELECT 'refund', r.order_id, r.stripe_refund_id, r.amount, r.currency, 'refund:' || r.id,
       r.status = 'succeeded'
  FROM refunds r JOIN orders o ON o.id = r.order_id
 WHERE o.{column} = :e AND r.stripe_refund_id IS NOT NULL
   AND r.status IN ('pending', 'succeeded', 'failed')
   AND (NOT EXISTS (SELECT 1 FROM stripe_balance_transactions b
                     WHERE b.source_id = r.stripe_refund_id)
        OR r.status = 'failed' AND NOT EXISTS (
               SELECT 1 FROM stripe_balance_transactions b
                WHERE b.source_id = r.stripe_refund_id AND b.kind = 'refund_failure')
        OR EXISTS (SELECT 1 FROM stripe_balance_transactions b
                    WHERE b.source_id = r.stripe_refund_id AND b.status = 'pending'))
UNION ALL
SELECT 'dispute', d.order_id, d.id, d.amount, d.currency, 'dispute:' || d.id, false
  FROM disputes d JOIN orders o ON o.id = d.order_id
 WHERE o.{column} = :e
   AND (NOT EXISTS (SELECT 1 FROM stripe_balance_transactions b WHERE b.source_id = d.id)
        OR d.status = 'won' AND NOT EXISTS (
               SELECT 1 FROM stripe_balance_transactions b
                WHERE b.source_id = d.id AND b.kind = 'dispute_reversal')
        OR EXISTS (SELECT 1 FROM stripe_balance_transactions b
                    WHERE b.source_id = d.id AND b.status = 'pending'))
ORDER BY 1, 2, 3
"""
# Formatted with one of the two subject columns (Subject.column), never with input.
_QUESTIONS_OF = {column: text(_QUESTIONS.format(column=column))
                 for column in ("event_id", "recording_id")}  # fmt: skip


def _questions(session: Session, subject: Subject) -> list[Ask]:
    """What to ask Stripe: what is not stored yet, may have changed, or is pending."""
    rows = session.execute(_QUESTIONS_OF[subject.column], {"e": subject.id})
    return [
        Ask(str(what), str(order), str(source), int(expected), str(currency), str(ref), bool(must))
        for what, order, source, expected, currency, ref, must in rows
    ]


def _ask(gateway: BalanceReader, ask: Ask) -> list[BalanceTransaction]:
    if ask.what == "charge":
        txn = gateway.payment_balance_transaction(ask.source)
        return [txn] if txn else []
    if ask.what == "refund":
        return gateway.refund_balance_transactions(ask.source)
    return gateway.dispute_balance_transactions(ask.source)


def _kind(ask: Ask, txn: BalanceTransaction) -> str:
    if ask.what == "charge":
        return "charge"
    if ask.what == "refund":
        return "refund" if txn.amount <= 0 else "refund_failure"
    return "dispute" if txn.amount <= 0 else "dispute_reversal"


def _store(
    session: Session, ask: Ask, txns: Sequence[BalanceTransaction], subject: Subject,
    now: datetime,
) -> tuple[int, int]:  # fmt: skip
    """Store what Stripe answered: (rows stored, findings)."""
    found = 0
    # A recording's finding names no event; its reference names the order or movement.
    event_id = subject.columns()["event_id"]

    def finding(kind: str, reference: str, detail: str, amount: int, currency: str) -> None:
        nonlocal found
        found += record_finding(session, subject.venue_id, event_id, kind=kind,
                                reference=reference, detail=detail, now=now, amount=amount,
                                currency=currency)  # fmt: skip

    if not txns:
        # A dispute in its inquiry stage, or a refund not yet processed, moved nothing yet.
        if ask.must_exist:
            finding("missing_in_stripe", ask.our_ref, "Stripe has no balance transaction",
                    -ask.expected, ask.currency)  # fmt: skip
        return 0, found
    stored = 0
    for txn in txns:
        reference = f"bt:{txn.id}"
        if txn.net != txn.amount - txn.fee:
            finding("unbalanced", reference,
                    f"net {txn.net} is not amount {txn.amount} minus fee {txn.fee}",
                    txn.net - (txn.amount - txn.fee), txn.currency)  # fmt: skip
            continue
        if txn.currency.upper() != ask.currency:
            theirs = txn.currency.upper()
            finding("currency_mismatch", reference,
                    f"Stripe reports {theirs}, {ask.our_ref} is in {ask.currency}",
                    txn.amount, theirs)  # fmt: skip
        kind = _kind(ask, txn)
        # Money in (charge, failed refund, reinstatement) is positive, money out negative.
        ours = ask.expected * (-1 if kind in ("refund", "dispute") else 1)
        if txn.amount != ours:
            detail = f"Stripe reports {txn.amount}, {ask.our_ref} recorded {ask.expected}"
            finding("amount_mismatch", reference, detail, txn.amount - ours, txn.currency)
        row = session.get(BalanceTransactionRecord, txn.id)
        if row is None:
            session.add(_record(ask, kind, txn, subject, now))
            stored += 1
        elif (row.amount, row.fee, row.net, row.currency) != (
            txn.amount,
            txn.fee,
            txn.net,
            txn.currency.upper(),
        ):
            finding("changed_in_stripe", reference,
                    f"Stripe now reports amount {txn.amount} fee {txn.fee}, "
                    f"stored amount {row.amount} fee {row.fee}",
                    txn.amount - row.amount, txn.currency)  # fmt: skip
        elif row.status != txn.status:
            lock_event_ledger(session, subject.id)  # the poster reads the status under it
            row.status, row.available_on = txn.status, _time(txn.available_on)
            session.add(row)
            session.flush()
            if txn.status == "available":
                release_pending(session, row, now)
    return stored, found


def _record(
    ask: Ask, kind: str, txn: BalanceTransaction, subject: Subject, now: datetime
) -> BalanceTransactionRecord:
    # A refund's or dispute's movements are filed under it (the query above asks by it).
    source = txn.source if ask.what == "charge" else ask.source
    return BalanceTransactionRecord(
        id=txn.id, venue_id=subject.venue_id, **subject.columns(), order_id=ask.order_id,
        kind=kind,
        source_id=source, amount=txn.amount, fee=txn.fee, net=txn.net,
        currency=txn.currency.upper(), status=txn.status, available_on=_time(txn.available_on),
        created=_time(txn.created) or now, fetched_at=now,
    )  # fmt: skip


def _time(unix: int | None) -> datetime | None:
    return datetime.fromtimestamp(unix, UTC) if unix else None
