"""Reconciliation posts what Stripe reports, once, and records what disagrees."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
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
    s.drain(database, clock)
    refund = ok(client.post(f"/v1/orders/{order['id']}/refunds", json={"amount": 1500},
                            headers=venue.headers), 202)  # fmt: skip
    submit_refund(database, gateway, refund["id"], clock.now())
    return venue, event["id"], order


def _balances(database: Database, venue_id: str) -> dict[str, int]:
    with database.unit_of_work() as uow:
        return {code: amount for code, amount in balances(uow.session, venue_id, "EUR").items()
                if amount}  # fmt: skip


def test_localstripe_charge_and_refund_are_posted_once_and_split(
    client: TestClient, database: Database, gateway: Any, clock: FixedClock, sale: Any
) -> None:
    venue, event_id, _ = sale
    first = reconcile_event(database, gateway, event_id, clock.now(), period="p1")
    assert (first.stored, first.posted, first.splits, first.findings) == (2, 2, 1, 0)
    after = _balances(database, venue.id)
    # localstripe charges no fee: 4000 in, 1500 out, 2500 kept and split.
    assert after["stripe_balance"] == 2500
    assert (after[f"sales:{event_id}"], after[f"refunds:{event_id}"]) == (-4000, 1500)
    statement = ok(client.get(f"/v1/finance/events/{event_id}/statement", headers=venue.headers))
    assert (statement["gross"], statement["refunds"], statement["stripe_fees"]) == (4000, 1500, 0)
    # 2500 incl. 21 % VAT is 2066 + 434; the 50,000 production cost takes everything left.
    assert statement["vat"] == 434 and statement["platform_fee"] == 103
    assert statement["costs"] == [{"label": "stream production", "amount": 2500 - 434 - 103}]
    assert statement["distributable"] == 0 and statement["undistributed"] == 0
    again = reconcile_event(database, gateway, event_id, clock.now(), period="p2")
    assert (again.stored, again.posted, again.splits, again.findings) == (0, 0, 0, 0)
    assert _balances(database, venue.id) == after


class FeeCharging:
    """Our gateway protocol with Stripe's real kind of figures around localstripe: a fee,
    and (optionally) a charge amount that disagrees with the order."""

    def __init__(self, real: Any, fee: int, extra: int = 0) -> None:
        self.real, self.fee, self.extra = real, fee, extra

    def payment_balance_transaction(self, intent_id: str) -> BalanceTransaction | None:
        txn: BalanceTransaction = self.real.payment_balance_transaction(intent_id)
        amount = txn.amount + self.extra
        return replace(txn, amount=amount, fee=self.fee, net=amount - self.fee)

    def refund_balance_transactions(self, refund_id: str) -> list[BalanceTransaction]:
        txns: list[BalanceTransaction] = self.real.refund_balance_transactions(refund_id)
        return txns


def test_fees_are_read_and_differences_become_findings(
    client: TestClient, database: Database, gateway: Any, clock: FixedClock, sale: Any
) -> None:
    venue, event_id, order = sale
    fake: Any = FeeCharging(gateway, fee=87, extra=100)
    outcome = reconcile_event(database, fake, event_id, clock.now(), period="p")
    assert outcome.findings == 1
    held = _balances(database, venue.id)
    assert held["stripe_balance"] == 4100 - 87 - 1500
    assert (held[f"stripe_fees:{event_id}"], held[f"sales:{event_id}"]) == (87, -4100)
    findings = ok(
        client.get("/v1/finance/findings", params={"event_id": event_id}, headers=venue.headers)
    )
    [finding] = findings["data"]
    assert finding["kind"] == "amount_mismatch" and order["id"] in finding["detail"]


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
    outcome = reconcile_event(database, broken, event_id, clock.now(), period="p")
    assert (outcome.stored, outcome.findings) == (1, 1)  # the refund only
    assert f"sales:{event_id}" not in _balances(database, venue.id)


def test_the_api_starts_reconciliation_jobs(
    client: TestClient, queue: RecordingQueue, clock: FixedClock, sale: Any
) -> None:
    venue, event_id, _ = sale
    job = ok(client.post("/v1/finance/reconciliations", json={"event_id": event_id},
                         headers=venue.headers), 202)  # fmt: skip
    assert (job["kind"], job["status"], job["subject_id"]) == ("reconciliation", "queued", event_id)
    assert job["result"] == {"events": [event_id], "recordings": []}
    assert ("finance.reconcile", (job["id"],)) in queue.sent
    # Without an event: every event with money activity in the period.
    window = {"from": (clock.now() - timedelta(days=1)).isoformat(),
              "to": (clock.now() + timedelta(minutes=1)).isoformat()}  # fmt: skip
    busy = ok(client.post("/v1/finance/reconciliations", json=window, headers=venue.headers), 202)
    assert busy["result"] == {"events": [event_id], "recordings": []}
    assert busy["subject_id"] is None
    other = make_venue(client, name="Another House")  # sees none of the first venue's events
    assert ok(client.post("/v1/finance/reconciliations", json=window, headers=other.headers),
              202)["result"] == {"events": [], "recordings": []}  # fmt: skip
    quiet = {"from": (clock.now() - timedelta(days=9)).isoformat(),
             "to": (clock.now() - timedelta(days=8)).isoformat()}  # fmt: skip
    assert ok(client.post("/v1/finance/reconciliations", json=quiet, headers=venue.headers),
              202)["result"] == {"events": [], "recordings": []}  # fmt: skip
    backwards = client.post("/v1/finance/reconciliations", headers=venue.headers,
                            json={"from": window["to"], "to": window["from"]})  # fmt: skip
    assert backwards.status_code == 422 and "from" in backwards.json()["error"]["fields"]
    unknown = client.post("/v1/finance/reconciliations", json={"event_id": "evt_unknown"},
                          headers=venue.headers)  # fmt: skip
    assert unknown.status_code == 404
    missing = client.get("/v1/finance/events/evt_unknown/statement", headers=venue.headers)
    assert missing.status_code == 404
