"""Findings: what Stripe and our records disagree on, recorded once, never overwritten."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from streamsvc.finance.schemas import Finding, FindingList
from streamsvc.kit.ids import new_id
from streamsvc.ledger.models import ReconciliationFinding

# missing_in_stripe: we recorded money Stripe has no balance transaction for
# amount_mismatch:   Stripe's figure differs from ours
# currency_mismatch: Stripe settled in another currency than the order's
# unbalanced:        a balance transaction whose net is not amount minus fee
# changed_in_stripe: Stripe now reports other figures than it did when posted
# unknown_charge:    a charge to one of our venues that matches no order
# ledger_mismatch:   the ledger of an event differs from its balance transactions
# unknown_in_payout: a Stripe payout paid out a balance transaction that is none of ours
# payout_mismatch:   a Stripe payout's amount is not the sum of its balance transactions'
#                    nets (the operator's: of no venue)
# pass_refund_unallocated: pass money refunded in Stripe or lost in a dispute beyond what
#                    its unplayed events held (or such money come back after a failure)
KINDS = ("missing_in_stripe", "amount_mismatch", "currency_mismatch", "unbalanced",
         "changed_in_stripe", "unknown_charge", "ledger_mismatch",
         "unknown_in_payout", "pass_refund_unallocated", "payout_mismatch")  # fmt: skip


def record_finding(
    session: Session, venue_id: str | None, event_id: str | None, *, kind: str,
    reference: str, detail: str, now: datetime, amount: int | None = None,
    currency: str | None = None,
) -> int:  # fmt: skip
    """Record a finding once (by kind and reference); 1 when it is new. `amount` (minor
    units of `currency`): Stripe's figure minus ours for a mismatch, else the object's.
    `venue_id` None: the operator's finding, which only the platform reads."""
    inserted = session.execute(
        insert(ReconciliationFinding)
        .values(id=new_id("fnd"), venue_id=venue_id, event_id=event_id, kind=kind,
                reference=reference, detail=detail[:1000], created_at=now, amount=amount,
                currency=currency.upper() if currency else None)
        .on_conflict_do_nothing(constraint="finding_once")
        .returning(col(ReconciliationFinding.id))
    ).first()  # fmt: skip
    return 0 if inserted is None else 1


def findings(
    session: Session, venue_id: str, event_id: str | None, limit: int = 500
) -> FindingList:
    """The venue's findings (of one event), oldest first."""
    statement = select(ReconciliationFinding).where(ReconciliationFinding.venue_id == venue_id)
    if event_id:
        statement = statement.where(ReconciliationFinding.event_id == event_id)
    rows = session.exec(statement.order_by(col(ReconciliationFinding.created_at)).limit(limit))
    return FindingList(data=[Finding.model_validate(row, from_attributes=True) for row in rows])


def operator_findings(session: Session, limit: int = 500) -> FindingList:
    """The operator's findings, of no venue (the platform's to read), newest first."""
    rows = session.exec(
        select(ReconciliationFinding).where(col(ReconciliationFinding.venue_id).is_(None))
        .order_by(col(ReconciliationFinding.created_at).desc(),
                  col(ReconciliationFinding.id).desc()).limit(limit)
    )  # fmt: skip
    return FindingList(data=[Finding.model_validate(row, from_attributes=True) for row in rows])
