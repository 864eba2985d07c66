"""Reconciliation posts what Stripe reports, once, and records what disagrees."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database, make_engine
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.kit.clock import FixedClock
from streamsvc.ledger.service import balances
from streamsvc.orders.refunds import submit_refund
from streamsvc.payments.factory import gateway_from_settings
from streamsvc.payments.gateway import BalanceTransaction
from tests.conftest import RecordingQueue
from tests.factories import VenueHandle, buy, make_tier, make_venue, ok, published_event
from tests.orders import scenarios as s
from tests.stripe_helpers import pay_with_card


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = Database(make_engine(settings.require("database_url"), pool_size=2))
    yield database
    database.dispose()


@pytest.fixture
def gateway(settings: Settings) -> Iterator[Any]:
    gateway = gateway_from_settings(settings)
    yield gateway
    getattr(gateway, "close", lambda: None)()


@pytest.fixture
def sale(client: TestClient, clock: FixedClock, database: Database, gateway: Any,
         localstripe: str) -> tuple[VenueHandle, str, dict[str, Any]]:  # fmt: skip
    """An event with one order of 4000 paid at localstripe and 1500 of it refunded."""
    venue = make_venue(client)
    event = published_event(client, venue, clock.now())
    tier = make_tier(client, venue, event["id"], name="Limited", capacity=10, price_amount=2000)
    order = buy(client, event["id"], tier["id"], quantity=2)
    pay_with_card(localstripe, order["payment"]["payment_intent_id"])
    s.deliver(client, s.succeeded(order))
    s.drain(database, clock, RecordingQueue().enqueue)
    refund = ok(client.post(f"/v1/orders/{order['id']}/refunds", json={"amount": 1500},
                            headers=venue.headers), 202)  # fmt: skip
    submit_refund(database, gateway, refund["id"], clock.now())
    return venue, event["id"], order


def _balances(database: Database, venue_id: str) -> dict[str, int]:
    with database.unit_of_work() as uow:
        return balances(uow.session, venue_id, "EUR")


def test_charges_and_refunds_are_posted_once(database: Database, gateway: Any, clock: FixedClock,
                                             sale: Any) -> None:  # fmt: skip
    venue, event_id, _ = sale
    first = reconcile_event(database, gateway, event_id, clock.now())
    assert (first.charges, first.refunds, first.findings) == (1, 1, 0)
    after = _balances(database, venue.id)
    assert after == {"stripe_balance": 2500, "stripe_fees": 0, f"sales:{event_id}": -2500}
    again = reconcile_event(database, gateway, event_id, clock.now())
    assert (again.charges, again.refunds, again.findings) == (0, 0, 0)
    assert _balances(database, venue.id) == after


def fake(real: Any, fee: int, extra: int = 0, fail_after: int | None = None) -> Any:
    return FeeCharging(real, fee, extra, fail_after)


class FeeCharging:
    """Our gateway protocol with Stripe's real kind of figures: a fee, and (optionally)
    a charge amount that disagrees with the order, or a failure after `fail_after` calls."""

    def __init__(self, real: Any, fee: int, extra: int = 0, fail_after: int | None = None) -> None:
        self.real, self.fee, self.extra, self.fail_after, self.calls = (
            real,
            fee,
            extra,
            fail_after,
            0,
        )

    def _count(self) -> None:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("worker killed")

    def payment_balance_transaction(self, intent_id: str) -> BalanceTransaction | None:
        self._count()
        txn: BalanceTransaction = self.real.payment_balance_transaction(intent_id)
        amount = txn.amount + self.extra
        return replace(txn, amount=amount, fee=self.fee, net=amount - self.fee)

    def refund_balance_transaction(self, refund_id: str) -> BalanceTransaction | None:
        self._count()
        txn: BalanceTransaction | None = self.real.refund_balance_transaction(refund_id)
        return txn


def test_fees_are_read_and_differences_become_findings(
    client: TestClient, database: Database, gateway: Any, clock: FixedClock, sale: Any
) -> None:
    venue, event_id, order = sale
    outcome = reconcile_event(database, fake(gateway, fee=87, extra=100), event_id, clock.now())
    assert outcome.findings == 1
    assert _balances(database, venue.id) == {
        "stripe_balance": 4100 - 87 - 1500,
        "stripe_fees": 87,
        f"sales:{event_id}": -(4100 - 1500),
    }
    findings = ok(
        client.get("/v1/finance/findings", params={"event_id": event_id}, headers=venue.headers)
    )
    [finding] = findings["data"]
    assert finding["kind"] == "amount_mismatch" and order["id"] in finding["detail"]


def test_a_killed_run_resumes_to_the_same_ledger(database: Database, gateway: Any,
                                                 clock: FixedClock, sale: Any) -> None:  # fmt: skip
    venue, event_id, _ = sale
    with pytest.raises(RuntimeError):
        reconcile_event(database, fake(gateway, fee=30, fail_after=1), event_id, clock.now())
    partial = _balances(database, venue.id)
    assert partial["stripe_fees"] == 30  # the charge went in before the "crash"
    reconcile_event(database, fake(gateway, fee=30), event_id, clock.now())
    assert _balances(database, venue.id) == {
        "stripe_balance": 4000 - 30 - 1500,
        "stripe_fees": 30,
        f"sales:{event_id}": -2500,
    }


def test_the_api_starts_a_reconciliation_job(
    client: TestClient, queue: RecordingQueue, sale: Any
) -> None:
    venue, event_id, _ = sale
    job = ok(client.post("/v1/finance/reconciliations", json={"event_id": event_id},
                         headers=venue.headers), 202)  # fmt: skip
    assert (job["kind"], job["status"], job["subject_id"]) == ("reconciliation", "queued", event_id)
    assert ("finance.reconcile_event", (job["id"],)) in queue.sent
    unknown = client.post("/v1/finance/reconciliations", json={"event_id": "evt_unknown"},
                          headers=venue.headers)  # fmt: skip
    assert unknown.status_code == 404


def test_figures_that_do_not_add_up_are_a_finding_not_a_posting(
    database: Database, gateway: Any, clock: FixedClock, sale: Any
) -> None:
    venue, event_id, _ = sale

    class Inconsistent(FeeCharging):
        def payment_balance_transaction(self, intent_id: str) -> BalanceTransaction | None:
            txn = super().payment_balance_transaction(intent_id)
            assert txn is not None
            return replace(txn, net=txn.net - 1)  # net is not amount minus fee

    broken: Any = Inconsistent(gateway, fee=10)
    outcome = reconcile_event(database, broken, event_id, clock.now())
    assert (outcome.charges, outcome.findings) == (0, 1)
    assert (
        "stripe_fees" not in _balances(database, venue.id)
        or _balances(database, venue.id)["stripe_fees"] == 0
    )
