"""Reconciliation: every charge and refund of an event, posted as Stripe reports it.

For each paid order the charge's balance transaction is read from Stripe and posted
under `bt:{balance transaction id}`: the net to `stripe_balance`, the fee to
`stripe_fees`, the gross against `sales:{event}`. Refunds are posted the same way
from their own balance transactions. Fees are read, never computed. Posting is by
reference, so a re-run (after a crash at any point) posts nothing twice; what does
not agree with our records becomes a finding instead of an overwrite.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from streamsvc.db import Database
from streamsvc.kit.ids import new_id
from streamsvc.ledger.models import ReconciliationFinding
from streamsvc.ledger.service import Line, post
from streamsvc.orders.models import Order
from streamsvc.payments.gateway import BalanceTransaction, PaymentGateway
from streamsvc.payments.models import Refund


@dataclass
class Outcome:
    charges: int = 0
    refunds: int = 0
    findings: int = 0


def reconcile_event(
    database: Database, gateway: PaymentGateway, event_id: str, now: datetime
) -> Outcome:
    outcome = Outcome()
    with database.unit_of_work() as uow:
        orders = list(uow.session.exec(
            select(Order.id, Order.venue_id, Order.payment_intent_id, Order.paid_amount)
            .where(Order.event_id == event_id, col(Order.paid_amount) > 0)
            .order_by(col(Order.created_at))
        ))  # fmt: skip
        refunds = list(uow.session.exec(
            select(Refund.id, Refund.stripe_refund_id, Refund.amount, Order.venue_id)
            .join(Order, col(Order.id) == col(Refund.order_id))
            .where(Order.event_id == event_id, Refund.status == "succeeded",
                   col(Refund.stripe_refund_id).is_not(None))
        ))  # fmt: skip
    for order_id, venue_id, intent_id, paid in orders:
        txn = gateway.payment_balance_transaction(intent_id) if intent_id else None
        posted, found = _settle(
            database, venue_id, event_id, txn, paid,
            missing=f"order:{order_id}", what=f"order {order_id}", now=now,
        )  # fmt: skip
        outcome.charges += posted
        outcome.findings += found
    for refund_id, stripe_refund_id, amount, venue_id in refunds:
        txn = gateway.refund_balance_transaction(str(stripe_refund_id))
        # A refund's balance transaction is negative: it takes `amount` back out.
        posted, found = _settle(
            database, venue_id, event_id, txn, -amount,
            missing=f"refund:{refund_id}", what=f"refund {refund_id}", now=now,
        )  # fmt: skip
        outcome.refunds += posted
        outcome.findings += found
    return outcome


def _settle(
    database: Database, venue_id: str, event_id: str, txn: BalanceTransaction | None,
    expected: int, *, missing: str, what: str, now: datetime,
) -> tuple[int, int]:  # fmt: skip
    """Post one of our money movements as Stripe reports it: (posted, findings)."""
    with database.unit_of_work() as uow:
        if txn is None:
            return 0, _finding(uow.session, venue_id, event_id, kind="missing_in_stripe",
                               reference=missing, detail="Stripe has no balance transaction",
                               now=now)  # fmt: skip
        if txn.net != txn.amount - txn.fee:
            detail = f"net {txn.net} is not amount {txn.amount} minus fee {txn.fee}"
            return 0, _finding(uow.session, venue_id, event_id, kind="unbalanced",
                               reference=f"bt:{txn.id}", detail=detail, now=now)  # fmt: skip
        posted = _post(uow.session, venue_id, event_id, txn, now)
        found = 0
        if txn.amount != expected:
            found = _finding(uow.session, venue_id, event_id, kind="amount_mismatch",
                             reference=f"bt:{txn.id}",
                             detail=f"Stripe reports {txn.amount}, {what} recorded {expected}",
                             now=now)  # fmt: skip
        return posted, found


def _post(session: Session, venue_id: str, event_id: str, txn: BalanceTransaction,
          now: datetime) -> int:  # fmt: skip
    """Post one balance transaction (once); 1 when it was new."""
    posted = post(
        session, venue_id=venue_id, reference=f"bt:{txn.id}", currency=txn.currency.upper(),
        lines=[Line("stripe_balance", txn.net), Line("stripe_fees", txn.fee),
               Line(f"sales:{event_id}", -txn.amount)],
        now=now, event_id=event_id, description=f"{txn.type} as Stripe reports it",
    )  # fmt: skip
    return 0 if posted is None else 1


def _finding(
    session: Session,
    venue_id: str,
    event_id: str,
    *,
    kind: str,
    reference: str,
    detail: str,
    now: datetime,
) -> int:
    inserted = session.execute(
        insert(ReconciliationFinding)
        .values(id=new_id("fnd"), venue_id=venue_id, event_id=event_id, kind=kind,
                reference=reference, detail=detail[:1000], created_at=now)
        .on_conflict_do_nothing(constraint="finding_once")
        .returning(col(ReconciliationFinding.id))
    ).first()  # fmt: skip
    return 0 if inserted is None else 1
