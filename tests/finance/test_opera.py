"""The done-when scenario: a hybrid opera's statement is the table worked out by hand
(tests/finance/worked.py), and a season of 500 random orders ties out to the cent with
the ledger and with the sum of Stripe's balance transactions."""

from __future__ import annotations

import random
from fractions import Fraction

from starlette.testclient import TestClient

from streamsvc.db import Database
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.kit.clock import FixedClock
from streamsvc.ledger.service import balances
from tests.factories import ok
from tests.finance import worked
from tests.finance.books import DISPUTE_FEE, card_fee
from tests.finance.world import build


def test_the_opera_of_the_product_text_to_the_cent(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    """Seats at 9 % and streams at 21 % VAT, a refund, a won and a lost dispute, the
    platform's 5 %, stream production recouped, venue and three singers: the statement,
    every ledger balance and the split transaction are the hand-worked table, and a
    re-run changes none of it."""
    opera = worked.opera(client, database, clock, check=worked.check_books)
    event_id = opera.world.event["id"]
    again = reconcile_event(database, opera.world.books, event_id, clock.now(), period="again")
    assert (again.stored, again.posted, again.splits, again.findings) == (0, 0, 0, 0)
    worked.check_books(opera)


def test_hybrid_opera_ties_out_to_the_cent(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    """Too many orders to work out by hand: this one ties Stripe, the ledger and the
    statement together, and holds the split to its bounds; the literal tables are the
    oracle of the figures themselves."""
    world = build(
        client, database, clock,
        tiers=[(8500, 900, 1200), (2450, 2100, None), (1450, 2100, None)],  # seats 9%, streams 21%
        platform_fee_bps=500, costs=[400_000], shares=[4000, 2000, 2000, 2000],
    )  # fmt: skip
    rng = random.Random(500)
    for _ in range(500):
        lines = [(rng.randrange(3), rng.randint(1, 3))]
        if rng.random() < 0.2:  # a seat and a stream for a friend abroad: two VAT rates
            lines = [(0, 1), (rng.choice((1, 2)), 1)]
        world.buy(lines)
    refunded = rng.sample(world.orders, 22)
    refunds = {}
    for i, order in enumerate(refunded[:20]):
        amount = order["total_amount"] if i < 15 else rng.randint(1, order["total_amount"] - 1)
        world.refund(order, amount)
        refunds[order["id"]] = amount
    world.dispute(refunded[20], won=True)
    world.dispute(refunded[21], won=False)
    event_id = world.event["id"]

    outcome = reconcile_event(database, world.books, event_id, clock.now(), period="2026-12")
    assert (outcome.stored, outcome.findings) == (500 + 20 + 3, 0)

    statement = world.statement()
    txns = world.books.all()
    charges = [t for t in txns if t["type"] == "charge"]
    # With Stripe: every figure is the sum of its balance transactions.
    assert statement["gross"] == sum(t["amount"] for t in charges)
    assert statement["refunds"] == sum(refunds.values())
    assert statement["disputes"] == refunded[21]["total_amount"]  # the lost one only
    assert statement["stripe_fees"] == sum(t["fee"] for t in txns)
    assert statement["stripe_fees"] == sum(card_fee(t["amount"]) for t in charges) + 2 * DISPUTE_FEE
    net = sum(t["net"] for t in txns)
    assert statement["gross"] - statement["refunds"] - statement["disputes"] \
        - statement["stripe_fees"] == net  # fmt: skip
    # With the ledger.
    with database.unit_of_work() as uow:
        held = balances(uow.session, world.venue.id, "EUR")
    assert held["stripe_balance"] == net
    assert -held["vat_payable"] == statement["vat"]
    assert -held["platform_fees"] == statement["platform_fee"]
    for party in statement["parties"]:
        code = f"payable:{party['party']['type']}:{party['party']['id']}"
        assert -held[code] == party["amount"]
    # The waterfall itself.
    assert statement["costs"] == [{"label": "cost 0", "amount": 400_000}]
    revenue = statement["revenue_ex_vat"]
    assert abs(Fraction(revenue * 500, 10_000) - statement["platform_fee"]) <= Fraction(1, 2)
    distributable = statement["distributable"]
    assert distributable == revenue - statement["stripe_fees"] - statement["platform_fee"] - 400_000
    assert distributable > 0 and statement["undistributed"] == 0
    assert sum(p["amount"] for p in statement["parties"]) == distributable
    assert [p["bps"] for p in statement["parties"]] == [4000, 2000, 2000, 2000]
    for party in statement["parties"]:
        assert abs(Fraction(distributable * party["bps"], 10_000) - party["amount"]) < 1
    # A re-run changes nothing, and finds nothing.
    again = reconcile_event(database, world.books, event_id, clock.now(), period="2026-12b")
    assert (again.stored, again.posted, again.splits, again.findings) == (0, 0, 0, 0)
    assert world.statement() == statement
    findings = ok(client.get("/v1/finance/findings", headers=world.venue.headers))["data"]
    assert findings == []
