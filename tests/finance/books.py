"""Stripe's books for reconciliation tests: balance transactions with real figures.

localstripe reports fee 0 and knows no disputes, pending funds or failed refunds.
`StripeBooks` is our `PaymentGateway` reading side, answering from balance
transactions built from Stripe's own example objects (fixtures3.json): a card fee
on every charge (1.5 % + 25, as Stripe charges EU cards), the dispute fee (1500) on
every dispute withdrawal, pending funds, and refunds that fail after moving money.
The test plays Stripe by telling the books what happened.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from streamsvc.payments.gateway import BalanceTransaction, PaymentIntent
from tests.stripe_helpers import stripe_object

DISPUTE_FEE = 1500
_ids = itertools.count(1)


def card_fee(amount: int) -> int:
    return 25 + amount * 15 // 1000


def parse(data: dict[str, Any]) -> BalanceTransaction:
    """A Stripe balance_transaction object as the gateway reads it."""
    return BalanceTransaction(
        id=data["id"], amount=data["amount"], fee=data["fee"], net=data["net"],
        currency=data["currency"], status=data["status"], type=data["type"],
        source=data["source"], created=data["created"], available_on=data["available_on"],
    )  # fmt: skip


class Killed(RuntimeError):
    """The worker died here (a test's injected crash)."""


@dataclass
class StripeBooks:
    currency: str = "eur"
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)  # by payment intent
    refunds: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: int = 0
    die_at: int | None = None  # raise Killed on this call (1-based)

    def _txn(self, amount: int, fee: int, type_: str, source: str, **more: Any) -> dict[str, Any]:
        created = 1_795_000_000 + next(_ids)  # mid-November 2026, before the tests' clock
        return stripe_object(
            "balance_transaction", id=f"txn_books{next(_ids)}", amount=amount, fee=fee,
            net=amount - fee, currency=self.currency, type=type_, source=source,
            created=created, available_on=created + 2 * 86_400, status="available",
            fee_details=[{"amount": fee, "currency": self.currency, "type": "stripe_fee"}],
            **more,
        )  # fmt: skip

    # The test, playing Stripe ----------------------------------------------------
    def charge(self, intent_id: str, amount: int, *, pending: bool = False) -> dict[str, Any]:
        txn = self._txn(amount, card_fee(amount), "charge", f"ch_books{next(_ids)}",
                        reporting_category="charge")  # fmt: skip
        txn["status"] = "pending" if pending else "available"
        self.charges[intent_id] = txn
        return txn

    def make_available(self, intent_id: str) -> None:
        self.charges[intent_id]["status"] = "available"

    def refund(self, refund_id: str, amount: int) -> None:
        txn = self._txn(-amount, 0, "refund", refund_id, reporting_category="refund")
        self.refunds[refund_id] = [txn]

    def fail_refund(self, refund_id: str) -> None:
        """The refund failed after Stripe took the money: it is put back."""
        amount = -self.refunds[refund_id][0]["amount"]
        self.refunds[refund_id].append(self._txn(amount, 0, "refund_failure", refund_id,
                                                 reporting_category="refund_failure"))  # fmt: skip

    def dispute(self, dispute_id: str, charge_intent: str, amount: int) -> None:
        withdrawal = self._txn(-amount, DISPUTE_FEE, "adjustment", dispute_id,
                               reporting_category="dispute")  # fmt: skip
        self.disputes[dispute_id] = stripe_object(
            "dispute", id=dispute_id, amount=amount, payment_intent=charge_intent,
            status="needs_response", balance_transactions=[withdrawal],
        )  # fmt: skip

    def close_dispute(self, dispute_id: str, *, won: bool) -> None:
        dispute = self.disputes[dispute_id]
        dispute["status"] = "won" if won else "lost"
        if won:  # the money comes back; the dispute fee stays with Stripe
            dispute["balance_transactions"].append(self._txn(
                dispute["amount"], 0, "adjustment", dispute_id,
                reporting_category="dispute_reversal"))  # fmt: skip

    def all(self) -> list[dict[str, Any]]:
        """Every balance transaction in the books (to tie out with)."""
        txns = list(self.charges.values())
        txns += [txn for refund in self.refunds.values() for txn in refund]
        txns += [txn for d in self.disputes.values() for txn in d["balance_transactions"]]
        return txns

    # The gateway's reading side ----------------------------------------------------
    def _call(self) -> None:
        self.calls += 1
        if self.die_at is not None and self.calls == self.die_at:
            raise Killed(f"killed at Stripe call {self.calls}")

    def payment_balance_transaction(self, payment_intent_id: str) -> BalanceTransaction | None:
        self._call()
        txn = self.charges.get(payment_intent_id)
        return parse(txn) if txn else None

    def refund_balance_transactions(self, refund_id: str) -> list[BalanceTransaction]:
        self._call()
        return [parse(txn) for txn in self.refunds.get(refund_id, [])]

    def dispute_balance_transactions(self, dispute_id: str) -> list[BalanceTransaction]:
        self._call()
        dispute = self.disputes.get(dispute_id)
        return [parse(txn) for txn in dispute["balance_transactions"]] if dispute else []

    def recent_balance_transactions(self, since: int) -> Iterator[BalanceTransaction]:
        self._call()
        for txn in sorted(self.all(), key=lambda t: -int(t["created"])):
            if txn["created"] >= since:
                yield parse(txn)

    def charge_payment_intent(self, charge_id: str) -> str | None:
        self._call()
        return next((pi for pi, txn in self.charges.items() if txn["source"] == charge_id), None)

    def retrieve_payment_intent(self, intent_id: str) -> PaymentIntent:
        self._call()
        return PaymentIntent(id=intent_id, status="succeeded", amount=0, currency=self.currency,
                             client_secret=None, latest_charge=None, metadata={})  # fmt: skip
