"""What beat reconciles: events and recordings with recent money activity, and
unknown charges.

An event (or a recording) is recent when an order was paid, or a refund or dispute changed, within
the look-back window, or when some of its funds are still pending at Stripe.
Stripe's own balance transactions of the window are scanned too: a charge we have
not stored either belongs to one of our orders (its event is reconciled) or is a
charge naming one of our venues that matches no order (a finding).
"""

from __future__ import annotations

import itertools
import logging
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session, col, select

from streamsvc.finance.findings import record_finding
from streamsvc.finance.models import BalanceTransactionRecord
from streamsvc.finance.reconciliation import KIND
from streamsvc.finance.subjects import Kind
from streamsvc.jobs.service import active_job, create_job
from streamsvc.orders.models import Order
from streamsvc.payments.gateway import (
    BalanceReader,
    BalanceTransaction,
    PaymentProviderUnavailable,
)
from streamsvc.venues.models import Venue

log = logging.getLogger(__name__)

_ACTIVE = text("""
SELECT DISTINCT o.venue_id, o.event_id, o.recording_id FROM orders o
 WHERE (CAST(:venue AS text) IS NULL OR o.venue_id = :venue)
   AND (o.event_id IS NOT NULL OR o.recording_id IS NOT NULL)
   AND (o.paid_at >= :since AND o.paid_at < :until
        OR EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id
                      AND r.updated_at >= :since AND r.updated_at < :until)
        OR EXISTS (SELECT 1 FROM disputes d WHERE d.order_id = o.id
                      AND d.updated_at >= :since AND d.updated_at < :until))
UNION
SELECT DISTINCT venue_id, event_id, recording_id FROM stripe_balance_transactions
 WHERE status = 'pending' AND (CAST(:venue AS text) IS NULL OR venue_id = :venue)
""")
Active = tuple[str, Kind, str]  # (venue, "event" | "recording", its id)


def with_activity(
    session: Session, since: datetime, until: datetime, venue_id: str | None = None
) -> set[Active]:
    """The events and recordings with money activity in [since, until), or funds still
    pending, with their venue."""
    rows = session.execute(_ACTIVE, {"since": since, "until": until, "venue": venue_id})
    return {(str(venue), "event", str(event)) if event is not None
            else (str(venue), "recording", str(recording))
            for venue, event, recording in rows}  # fmt: skip


def events_with_activity(
    session: Session, since: datetime, until: datetime, venue_id: str | None = None
) -> set[tuple[str, str]]:
    """(venue, event) pairs with money activity in [since, until), or funds still pending."""
    found = with_activity(session, since, until, venue_id)
    return {(venue, subject) for venue, kind, subject in found if kind == "event"}


def unknown_charges(
    session: Session, gateway: BalanceReader, now: datetime, lookback: timedelta
) -> tuple[set[Active], int]:
    """Scan Stripe's charges of the window: (what to reconcile, findings recorded)."""
    since = int((now - lookback).timestamp())
    charges = (txn for txn in gateway.recent_balance_transactions(since)
               if txn.type == "charge" and txn.source.startswith(("ch_", "py_")))  # fmt: skip
    events: set[Active] = set()
    found = 0
    while chunk := list(itertools.islice(charges, 500)):  # one lookup per 500 charges
        stored = set(session.exec(select(BalanceTransactionRecord.id).where(
            col(BalanceTransactionRecord.id).in_([txn.id for txn in chunk]))))  # fmt: skip
        for txn in chunk:
            if txn.id not in stored:
                event, new = _identify(session, gateway, txn, now)
                events |= event
                found += new
    return events, found


def _identify(
    session: Session, gateway: BalanceReader, txn: BalanceTransaction, now: datetime
) -> tuple[set[Active], int]:
    """A charge we have not collected: the event or recording of its order, or a finding."""
    intent_id = gateway.charge_payment_intent(txn.source)
    if intent_id is None:
        log.warning("balance transaction %s: a charge without a PaymentIntent", txn.id)
        return set(), 0
    ours = select(Order.venue_id, Order.event_id, Order.recording_id).where(
        Order.payment_intent_id == intent_id
    )
    order = session.exec(ours).first()
    if order is not None:
        venue, event, recording = order
        if event is not None:
            return {(venue, "event", event)}, 0
        # A season pass's charge belongs to neither: passes/recognition.py collects it.
        return ({(venue, "recording", recording)} if recording is not None else set()), 0
    venue_id = gateway.retrieve_payment_intent(intent_id).metadata.get("venue_id")
    if venue_id and session.get(Venue, venue_id) is not None:
        return set(), record_finding(
            session, venue_id, None, kind="unknown_charge", reference=f"bt:{txn.id}",
            detail=f"charge {txn.source} of {txn.amount} {txn.currency.upper()} "
                   "matches no order", now=now, amount=txn.amount, currency=txn.currency,
        )  # fmt: skip
    log.warning("balance transaction %s: a charge of no venue of ours", txn.id)
    return set(), 0


def start_recent_jobs(
    session: Session, gateway: BalanceReader, now: datetime, lookback: timedelta
) -> list[str]:
    """A reconciliation job (queued) for every event with money activity in the look-back
    window or a charge of ours Stripe has that we have not collected, unless one is
    queued or running already. The caller asks a worker for each after the commit."""
    found = with_activity(session, now - lookback, now)
    try:
        more, _ = unknown_charges(session, gateway, now, lookback)
        found |= more
    except PaymentProviderUnavailable:
        log.warning("Stripe unavailable: reconciling what we know; the next run scans again")
    started = []
    for venue_id, kind, subject_id in sorted(found):
        if active_job(session, KIND, subject_id) is None:
            job = create_job(session, venue_id, KIND, subject_id, now)
            job.result = {"events": [subject_id] if kind == "event" else [],
                          "recordings": [subject_id] if kind == "recording" else []}  # fmt: skip
            started.append(job.id)
    return started
