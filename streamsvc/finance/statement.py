"""An event's statement, read from the ledger (never recomputed from orders).

The reconciliation postings give gross, refunds, disputes and Stripe fees; the
split postings give VAT, the platform fee, recouped costs and each party's share.
`distributable` is what is left after all of them, so the parties sum to it
exactly once the split is current; `undistributed` says what is not (yet) shared:
a loss carried over (negative), or money reconciled since the last split.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import text
from sqlmodel import Session, col, select

from streamsvc.catalog.models import Event, SplitRule


class StatementCost(BaseModel):
    label: str
    amount: int  # recouped so far


class PartyRef(BaseModel):
    type: str  # venue | performer
    id: str


class StatementParty(BaseModel):
    party: PartyRef
    bps: int  # under the latest split-rule version
    amount: int


class Statement(BaseModel):
    event_id: str
    currency: str
    gross: int
    refunds: int
    disputes: int  # withdrawn by disputes and not reinstated
    vat: int
    revenue_ex_vat: int
    stripe_fees: int  # including dispute fees, as Stripe charged them
    platform_fee: int
    costs: list[StatementCost]
    distributable: int
    parties: list[StatementParty]
    undistributed: int  # distributable minus the parties: 0 when current; < 0 a carried loss
    split_at: datetime | None  # the latest split posting


def event_balances(session: Session, event_id: str, currency: str) -> dict[str, int]:
    """The sum of the event's entries per account code (its transactions only)."""
    rows = session.execute(text("""
        SELECT a.code, sum(e.amount) FROM ledger_transactions t
          JOIN ledger_entries e ON e.transaction_id = t.id
          JOIN ledger_accounts a ON a.id = e.account_id
         WHERE t.event_id = :event_id AND t.currency = :currency
         GROUP BY a.code
    """), {"event_id": event_id, "currency": currency})  # fmt: skip
    return {str(code): int(total) for code, total in rows}


def statement(session: Session, event: Event) -> Statement:
    held = event_balances(session, event.id, event.currency)
    rule = session.exec(select(SplitRule).where(SplitRule.event_id == event.id)
                        .order_by(col(SplitRule.version).desc())).first()  # fmt: skip
    gross, refunds = -held.get(f"sales:{event.id}", 0), held.get(f"refunds:{event.id}", 0)
    disputes, vat = held.get(f"disputes:{event.id}", 0), -held.get("vat_payable", 0)
    fees, platform = held.get(f"stripe_fees:{event.id}", 0), -held.get("platform_fees", 0)
    labels = [str(cost["label"]) for cost in rule.costs] if rule else []
    costs = [StatementCost(label=label, amount=-held.get(f"costs_recouped:{event.id}:{i}", 0))
             for i, label in enumerate(labels)]  # fmt: skip
    shares = {f"payable:{s['party']['type']}:{s['party']['id']}": int(s["bps"])
              for s in (rule.shares if rule else [])}  # fmt: skip
    paid = {code: -amount for code, amount in held.items() if code.startswith("payable:")}
    parties = [
        StatementParty(party=PartyRef(type=code.split(":")[1], id=code.split(":")[2]),
                       bps=shares.get(code, 0), amount=paid.get(code, 0))
        for code in [*shares, *sorted(set(paid) - set(shares))]
    ]  # fmt: skip
    revenue_ex_vat = gross - refunds - disputes - vat
    distributable = revenue_ex_vat - fees - platform - sum(cost.amount for cost in costs)
    split_at = session.execute(text(
        "SELECT max(posted_at) FROM ledger_transactions "
        "WHERE event_id = :e AND starts_with(reference, 'split:')"
    ), {"e": event.id}).scalar()  # fmt: skip
    return Statement(
        event_id=event.id, currency=event.currency, gross=gross, refunds=refunds,
        disputes=disputes, vat=vat, revenue_ex_vat=revenue_ex_vat, stripe_fees=fees,
        platform_fee=platform, costs=costs, distributable=distributable, parties=parties,
        undistributed=distributable - sum(party.amount for party in parties), split_at=split_at,
    )  # fmt: skip
