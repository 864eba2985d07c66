"""Property test of the whole path: random orders, partial refunds, disputes, fees, VAT
rates and split rules, through the API, reconciled and split, then split again after
more refunds. The ledger balances, the parts sum to the whole, every share is within
one minor unit of its exact quota, the statement ties out with Stripe, and a re-run
changes nothing."""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from starlette.testclient import TestClient

from streamsvc.db import Database
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.kit.clock import FixedClock
from tests.finance.world import World, build, ledger


@st.composite
def shares(draw: st.DrawFn) -> list[int]:
    cuts = sorted(draw(st.sets(st.integers(1, 9_999), max_size=3)))
    bounds = [0, *cuts, 10_000]
    return [high - low for low, high in itertools.pairwise(bounds)]


tier = st.tuples(st.integers(100, 20_000), st.sampled_from([0, 600, 900, 2100, 2500]),
                 st.none())  # fmt: skip
happening = st.sampled_from(["paid", "paid", "partial", "full", "two_partials", "lost", "won"])
lines = st.lists(
    st.tuples(st.integers(0, 2), st.integers(1, 3)),
    min_size=1,
    max_size=2,
    unique_by=lambda line: line[0],
)  # an order names each tier once
order = st.tuples(lines, happening, st.integers(1, 99))


def _happen(world: World, placed: dict[str, Any], what: str, percent: int) -> None:
    total = placed["total_amount"]
    part = max(1, total * percent // 100) if total > 1 else 1
    if what == "partial" and total > 1:
        world.refund(placed, min(part, total - 1))
    elif what == "full":
        world.refund(placed, total)
    elif what == "two_partials" and total > 2:
        world.refund(placed, 1)
        world.refund(placed, min(part, total - 1) - 1 or 1)
    elif what in ("lost", "won"):
        world.dispute(placed, won=what == "won")


def _check(world: World, database: Database) -> dict[str, Any]:
    statement = world.statement()
    txns = world.books.all()
    assert statement["gross"] - statement["refunds"] - statement["disputes"] \
        - statement["stripe_fees"] == sum(t["net"] for t in txns)  # fmt: skip
    distributable = statement["distributable"]
    amounts = [p["amount"] for p in statement["parties"]]
    if distributable > 0:
        assert sum(amounts) == distributable and statement["undistributed"] == 0
        for party in statement["parties"]:
            assert abs(Fraction(distributable * party["bps"], 10_000) - party["amount"]) < 1
    else:
        assert amounts == [0] * len(amounts) and statement["undistributed"] == distributable
    with database.engine.connect() as conn:
        unbalanced = conn.execute(text(
            "SELECT count(*) FROM (SELECT transaction_id FROM ledger_entries "
            "GROUP BY transaction_id HAVING sum(amount) <> 0) x")).scalar_one()  # fmt: skip
    assert unbalanced == 0
    return statement


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(tiers=st.lists(tier, min_size=3, max_size=3), platform=st.integers(0, 3000),
       costs=st.lists(st.integers(1, 30_000), max_size=2), split=shares(),
       orders=st.lists(order, min_size=1, max_size=5), late_refund=st.booleans())  # fmt: skip
def test_reconcile_and_split_anything(
    client: TestClient, database: Database, clock: FixedClock, tiers: list[Any],
    platform: int, costs: list[int], split: list[int], orders: list[Any], late_refund: bool,
) -> None:  # fmt: skip
    world = build(client, database, clock, tiers=tiers, platform_fee_bps=platform, costs=costs,
                  shares=split)  # fmt: skip
    for lines, what, percent in orders:
        _happen(world, world.buy(lines), what, percent)
    event_id = world.event["id"]
    first = reconcile_event(database, world.books, event_id, clock.now(), period="p1")
    assert first.findings == 0
    _check(world, database)
    if late_refund:  # after the split: everyone gives back in proportion
        untouched = [o for o, (_, what, _) in zip(world.orders, orders, strict=True)
                     if what == "paid"]  # fmt: skip
        if untouched:
            world.refund(untouched[0], untouched[0]["total_amount"])
            reconcile_event(database, world.books, event_id, clock.now(), period="p2")
    statement = _check(world, database)
    before = ledger(database)
    again = reconcile_event(database, world.books, event_id, clock.now(), period="p3")
    assert (again.stored, again.posted, again.splits, again.findings) == (0, 0, 0, 0)
    assert ledger(database) == before and world.statement() == statement
