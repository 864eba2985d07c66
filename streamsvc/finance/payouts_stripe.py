"""Stripe payouts in the ledger: the operator's Stripe balance paid out to its bank.

One installation has one Stripe account, and Stripe pays its balance out to the
operator's bank account; the ledger keeps each venue's share of a payout apart. A
payout settles a set of balance transactions (Stripe lists them per payout), each a
charge, refund or dispute movement that `posting.py` put on one venue's
`stripe_balance`; each venue's part of the payout is the net of its own ones:

    announced (pending, in_transit)  payout:{po}:{venue}
        bank_in_transit + net, stripe_balance - net
    paid                             payout:{po}:{venue}:paid
        bank + net, bank_in_transit - net
    failed or canceled               payout:{po}:{venue}:failed
        stripe_balance + net, bank_in_transit - net (bank - net if reported paid before)

The references make every step happen once, whichever of Stripe's events arrives
first or again: the payout's status is read from the newest of its stored reports,
under a per-payout lock. Nothing is posted while Stripe is still listing what the
payout contains (`reconciliation_status: in_progress`): its
`payout.reconciliation_completed` event posts it.

Reported twice over: each `payout.*` webhook is a report (`stripe_events`), and so is
the payout as reconciliation finds it in Stripe's list of payouts (`stripe_payouts`):
beat's recent pass lists the payouts created in the look-back window
(`collect_payouts`) and posts, the same way, each whose status the ledger does not hold
yet. A payout whose webhook never came, or whose posting gave up, is posted all the
same; one the webhook posted costs the listing only.

Findings, never postings:
- `unknown_in_payout`: a balance transaction of the payout that is none of our
  charges, refunds or disputes. It goes to the venue with money in the payout that
  sorts first; when nothing in the payout is ours, it is the operator's (no venue).
- `payout_mismatch`, the operator's: the payout's `amount` (what reaches the bank,
  positive) is not the sum of the nets of what it pays out, ours and unknown (its own
  balance transaction, whose net is minus the amount, left out). Its amount is the
  payout's amount minus that sum.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from streamsvc.db import Database
from streamsvc.finance import accounts
from streamsvc.finance.findings import record_finding
from streamsvc.finance.models import StripePayoutRecord
from streamsvc.ledger.service import Line, post
from streamsvc.payments.gateway import (
    BalanceTransaction,
    PaymentRejected,
    PayoutLister,
    PayoutReader,
    PayoutReport,
)

log = logging.getLogger(__name__)

# The payout's own movements, not money it pays out.
_OF_THE_PAYOUT = frozenset({"payout", "payout_cancel", "payout_failure",
                            "payout_minimum_balance_hold",
                            "payout_minimum_balance_release"})  # fmt: skip
# A later status wins over an earlier one: a paid payout may still fail.
_RANK = {"pending": 0, "in_transit": 1, "paid": 2, "failed": 3, "canceled": 3}
_RETURNED = frozenset({"failed", "canceled"})


@dataclass(frozen=True)
class Payout:
    id: str
    status: str  # pending | in_transit | paid | failed | canceled
    currency: str  # upper case, like the ledger
    amount: int  # minor units paid into the bank: positive
    listed: bool  # Stripe lists all of the payout's balance transactions now
    automatic: bool  # Stripe lists no balance transactions of a manual payout


@dataclass
class PayoutPosted:
    posted: int = 0  # ledger transactions written now
    venues: int = 0  # venues with money in the payout
    findings: int = 0


@dataclass
class PayoutsCollected:
    listed: int = 0  # payouts Stripe lists as created in the window
    due: int = 0  # of them, posted now: a status the ledger did not hold yet
    posted: int = 0  # ledger transactions written now
    findings: int = 0
    refused: int = 0  # Stripe refused to list what they pay out: asked again next run


def payout_as_reported(session: Session, payout_id: str) -> Payout | None:
    """The payout as the newest of its reports says: its stored Stripe events, and the
    payout as reconciliation last found it in Stripe's list."""
    rows = session.execute(text("""
        SELECT payload -> 'data' -> 'object', created FROM stripe_events
         WHERE type LIKE 'payout.%' AND payload -> 'data' -> 'object' ->> 'id' = :po
        UNION ALL
        SELECT listed, CAST(extract(epoch FROM listed_at) AS bigint) FROM stripe_payouts
         WHERE id = :po AND listed IS NOT NULL
    """), {"po": payout_id}).all()  # fmt: skip
    if not rows:
        return None
    obj: dict[str, Any] = max(rows, key=lambda r: (_RANK.get(r[0].get("status"), -1), r[1]))[0]
    # Stripe's listing only ever completes: any report saying other than in_progress.
    listed = any(row[0].get("reconciliation_status") != "in_progress" for row in rows)
    return Payout(str(obj["id"]), str(obj["status"]), str(obj["currency"]).upper(),
                  int(obj["amount"]), listed, obj.get("automatic") is not False)  # fmt: skip


def post_payout(
    database: Database, gateway: PayoutReader, payout_id: str, now: datetime
) -> PayoutPosted:
    """Post what Stripe reported of one payout, per venue (safe to run again)."""
    with database.unit_of_work() as uow:
        reported = payout_as_reported(uow.session, payout_id)
        if reported is None or not reported.listed:
            return PayoutPosted()
    listed = gateway.balance_transactions_of_payout(payout_id)
    items = [t for t in listed if t.type not in _OF_THE_PAYOUT]
    # What the payout pays out: all but its own movements (a failed earlier payout's
    # money returned is paid out again, as is a minimum balance released).
    paid_out = sum(t.net for t in listed if t.source != payout_id)
    with database.unit_of_work() as uow:
        owners = _owners(uow.session, items)
    # Charges not collected yet: Stripe says which PaymentIntent, our orders whose.
    intents = {t.id: gateway.charge_payment_intent(t.source) for t in items
               if t.id not in owners and t.source.startswith(("ch_", "py_"))}  # fmt: skip
    with database.unit_of_work() as uow:
        session = uow.session
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('payout:' || :po))"),
                        {"po": payout_id})  # fmt: skip
        payout = payout_as_reported(session, payout_id)
        assert payout is not None  # stored events are never deleted
        owners |= _owners_by_intent(session, {k: v for k, v in intents.items() if v})
        outcome = _post(session, payout, items, owners, now)
        outcome.findings += _check_amount(session, payout, paid_out, now)
        _posted(session, payout, now)
        return outcome


def collect_payouts(
    database: Database, gateway: PayoutLister, now: datetime, lookback: timedelta
) -> PayoutsCollected:
    """Reconciliation's side of payouts: store every payout Stripe lists as created in
    the look-back window as a report of it, and post each whose status the ledger does
    not hold yet, as its webhook would have (safe to run again).

    A payout Stripe refuses to list the contents of is logged and left for the next
    run; Stripe unavailable raises PaymentProviderUnavailable, keeping what was posted.
    """
    outcome = PayoutsCollected()
    for report in gateway.recent_payouts(int((now - lookback).timestamp())):
        outcome.listed += 1
        with database.unit_of_work() as uow:
            due = _remember(uow.session, report, now)
        if not due:
            continue
        try:
            posted = post_payout(database, gateway, report.id, now)
        except PaymentRejected as exc:
            log.warning("payout %s: Stripe refused to list what it pays out: %s", report.id, exc)
            outcome.refused += 1
            continue
        outcome.due += 1
        outcome.posted += posted.posted
        outcome.findings += posted.findings
    return outcome


def _remember(session: Session, report: PayoutReport, now: datetime) -> bool:
    """Store the payout as Stripe lists it; True when posting it is due: Stripe has
    listed what it contains, and the ledger does not hold its status yet."""
    listed = {"object": "payout", **asdict(report)}
    upsert = insert(StripePayoutRecord).values(id=report.id, listed=listed, listed_at=now)
    session.execute(upsert.on_conflict_do_update(
        index_elements=["id"], set_={"listed": upsert.excluded.listed, "listed_at": now},
        where=col(StripePayoutRecord.listed).is_distinct_from(upsert.excluded.listed),
    ))  # fmt: skip
    record = session.get(StripePayoutRecord, report.id)
    assert record is not None  # stored just now
    if record.posted_status == report.status:
        return False  # the usual answer, without reading the webhooks' reports
    payout = payout_as_reported(session, report.id)
    assert payout is not None
    return payout.listed and payout.status != record.posted_status


def _posted(session: Session, payout: Payout, now: datetime) -> None:
    """Everything this status of the payout asks for is in the ledger now."""
    upsert = insert(StripePayoutRecord).values(id=payout.id, posted_status=payout.status,
                                               posted_at=now)  # fmt: skip
    session.execute(upsert.on_conflict_do_update(
        index_elements=["id"], set_={"posted_status": payout.status, "posted_at": now},
        where=col(StripePayoutRecord.posted_status).is_distinct_from(payout.status),
    ))  # fmt: skip


def _post(
    session: Session, payout: Payout, items: list[BalanceTransaction],
    owners: dict[str, str], now: datetime,
) -> PayoutPosted:  # fmt: skip
    nets: dict[str, int] = defaultdict(int)
    for txn in items:
        if txn.id in owners:
            nets[owners[txn.id]] += txn.net
    outcome = PayoutPosted(venues=len(nets))
    for venue_id, net in sorted(nets.items()):
        for reference, lines, why in _steps(session, payout, venue_id, net):
            done = post(session, venue_id=venue_id, reference=reference,
                        currency=payout.currency, lines=lines, now=now,
                        description=f"Stripe payout {payout.id}: {why}")  # fmt: skip
            outcome.posted += done is not None
    unknown = [txn for txn in items if txn.id not in owners]
    # The venue first in the payout; None (the operator's) when nothing in it is ours.
    finder = min(nets, default=None)
    for txn in unknown:
        outcome.findings += record_finding(
            session, finder, None, kind="unknown_in_payout",
            reference=f"payout:{payout.id}:{txn.id}", now=now, amount=txn.net,
            currency=txn.currency,
            detail=f"Stripe paid out {txn.type} {txn.id} ({txn.source or 'no source'}, net "
                   f"{txn.net} {txn.currency.upper()}), which matches no charge, refund or "
                   "dispute of ours",
        )  # fmt: skip
    return outcome


def _check_amount(session: Session, payout: Payout, paid_out: int, now: datetime) -> int:
    """The operator's `payout_mismatch` when the payout's amount is not what its
    balance transactions pay out (once per payout); 1 when recorded now."""
    difference = payout.amount - paid_out
    if difference == 0:
        return 0
    why = "" if payout.automatic else (
        " (a manual payout: Stripe lists none of what it pays out, so none of it was moved "
        "in the ledger)")  # fmt: skip
    recorded = record_finding(
        session, None, None, kind="payout_mismatch", reference=f"payout:{payout.id}",
        now=now, amount=difference, currency=payout.currency,
        detail=f"Stripe payout {payout.id} ({payout.status}) pays {payout.amount} "
               f"{payout.currency} into the bank, but its balance transactions net "
               f"{paid_out} {payout.currency}{why}",
    )  # fmt: skip
    if recorded:
        log.warning("payout %s: amount %s, its balance transactions net %s", payout.id,
                    payout.amount, paid_out)  # fmt: skip
    return recorded


def _steps(
    session: Session, payout: Payout, venue_id: str, net: int
) -> list[tuple[str, list[Line], str]]:
    """The postings this status of the payout asks for, in order: (reference, lines, why)."""
    if net == 0:
        return []
    announced = f"payout:{payout.id}:{venue_id}"
    steps = [(announced, [Line(accounts.BANK_IN_TRANSIT, net), Line(accounts.STRIPE_BALANCE, -net)],
              "on its way to the bank")]  # fmt: skip
    if payout.status == "paid":
        steps.append((f"{announced}:paid", [Line(accounts.BANK, net),
                                           Line(accounts.BANK_IN_TRANSIT, -net)],
                      "paid into the bank"))  # fmt: skip
    elif payout.status in _RETURNED:
        # Stripe can report a payout paid and then failed: the money leaves the bank again.
        was_paid = session.execute(text("SELECT 1 FROM ledger_transactions WHERE reference = :r"),
                                   {"r": f"{announced}:paid"}).first() is not None  # fmt: skip
        source = accounts.BANK if was_paid else accounts.BANK_IN_TRANSIT
        steps.append((f"{announced}:failed", [Line(accounts.STRIPE_BALANCE, net),
                                             Line(source, -net)],
                      f"{payout.status}, back in the Stripe balance"))  # fmt: skip
    return steps


def _owners(session: Session, items: list[BalanceTransaction]) -> dict[str, str]:
    """The venue of each balance transaction we know: stored when collected, or by the
    refund or dispute it moves money for."""
    if not items:
        return {}
    rows = session.execute(text("""
        SELECT i.id, coalesce(b.venue_id, r.venue_id, o.venue_id)
          FROM unnest(CAST(:ids AS text[]), CAST(:sources AS text[])) AS i(id, source)
          LEFT JOIN stripe_balance_transactions b ON b.id = i.id
          LEFT JOIN refunds r ON r.stripe_refund_id = i.source
          LEFT JOIN disputes d ON d.id = i.source
          LEFT JOIN orders o ON o.id = d.order_id
    """), {"ids": [t.id for t in items], "sources": [t.source for t in items]}).all()  # fmt: skip
    return {str(txn): str(venue) for txn, venue in rows if venue is not None}


def _owners_by_intent(session: Session, intents: dict[str, str]) -> dict[str, str]:
    """The venue of each charge's balance transaction, by its PaymentIntent's order."""
    if not intents:
        return {}
    rows = session.execute(text("""
        SELECT i.id, o.venue_id
          FROM unnest(CAST(:ids AS text[]), CAST(:intents AS text[])) AS i(id, intent)
          JOIN orders o ON o.payment_intent_id = i.intent
    """), {"ids": list(intents), "intents": list(intents.values())}).all()  # fmt: skip
    return {str(txn): str(venue) for txn, venue in rows}
