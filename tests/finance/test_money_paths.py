"""Reconciliation through every path money takes: fees, several partial refunds, a
refund that fails after moving money, disputes lost and won, pending funds, unknown
charges, a refund after a split, and a worker killed at any point."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from fractions import Fraction
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from streamsvc.db import Database, UnitOfWork
from streamsvc.finance.recent import start_recent_jobs, unknown_charges
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.kit.clock import FixedClock
from streamsvc.ledger.service import Line, balances, post
from tests.factories import ok
from tests.finance.books import DISPUTE_FEE, Killed, StripeBooks, card_fee
from tests.finance.world import World, build, ledger


@pytest.fixture
def world(client: TestClient, database: Database, clock: FixedClock) -> World:
    return build(client, database, clock, tiers=[(2000, 2100, None), (5000, 900, 100)],
                 platform_fee_bps=1000, costs=[1000], shares=[5000, 3000, 2000])  # fmt: skip


def _held(world: World) -> dict[str, int]:
    with world.database.unit_of_work() as uow:
        return balances(uow.session, world.venue.id, "EUR")


def _run(world: World, period: str = "p1", books: Any = None) -> Any:
    return reconcile_event(world.database, books or world.books, world.event["id"],
                           world.clock.now(), period=period)  # fmt: skip


def test_partial_refunds_a_failed_refund_and_disputes(world: World) -> None:
    a, b, c, d = (world.buy([(0, 2)]), world.buy([(1, 1)]), world.buy([(0, 1), (1, 1)]),
                  world.buy([(0, 1)]))  # fmt: skip
    world.refund(a, 500)
    world.refund(a, 700)  # two partial refunds of one charge
    failing = world.refund(b, 5000)
    world.books.fail_refund(failing)  # Stripe took the money back out, then returned it
    world.dispute(c, won=True)
    world.dispute(d, won=False)
    outcome = _run(world)
    assert outcome.findings == 0
    statement = world.statement()
    assert statement["refunds"] == 1200  # the failed refund nets to nothing
    assert statement["disputes"] == 2000  # the lost one; the won one was reinstated
    fees = sum(card_fee(order["total_amount"]) for order in (a, b, c, d)) + 2 * DISPUTE_FEE
    assert statement["stripe_fees"] == fees
    assert _held(world)["stripe_balance"] == sum(t["net"] for t in world.books.all())
    assert statement["gross"] - 1200 - 2000 - fees == sum(t["net"] for t in world.books.all())
    assert sum(p["amount"] for p in statement["parties"]) == statement["distributable"]


def test_funds_not_yet_available_wait_in_pending(world: World) -> None:
    order = world.buy([(0, 1)], pending=True)
    _run(world)
    net = 2000 - card_fee(2000)
    held = _held(world)
    assert (held["stripe_pending"], held.get("stripe_balance", 0)) == (net, 0)
    world.books.make_available(order["payment"]["payment_intent_id"])
    _run(world, "p2")
    held = _held(world)
    assert (held["stripe_pending"], held["stripe_balance"]) == (0, net)
    _run(world, "p3")  # asked once more, nothing moves twice
    assert _held(world) == held


def test_a_refund_after_the_split_takes_back_proportionally(world: World) -> None:
    orders = [world.buy([(1, 2)]) for _ in range(6)]
    _run(world, "november")
    before = {p["party"]["id"]: p["amount"] for p in world.statement()["parties"]}
    world.refund(orders[0], 10_000)
    outcome = _run(world, "december")
    assert outcome.splits == 1
    after = world.statement()
    taken = {p["party"]["id"]: before[p["party"]["id"]] - p["amount"] for p in after["parties"]}
    whole = sum(taken.values())
    assert whole > 0
    for party in after["parties"]:  # each gives back its share of what was lost
        exact = Fraction(whole * party["bps"], 10_000)
        assert abs(exact - taken[party["party"]["id"]]) <= 1
    assert sum(p["amount"] for p in after["parties"]) == after["distributable"]


def test_a_loss_is_carried_not_shared(client: TestClient, database: Database,
                                      clock: FixedClock) -> None:  # fmt: skip
    world = build(client, database, clock, tiers=[(2000, 2100, None)], platform_fee_bps=0,
                  costs=[100_000], shares=[10_000])  # fmt: skip
    world.buy([(0, 1)])
    _run(world)
    statement = world.statement()
    assert statement["costs"][0]["amount"] == statement["revenue_ex_vat"] - statement["stripe_fees"]
    assert statement["parties"][0]["amount"] == 0 and statement["distributable"] == 0
    world.dispute(world.orders[0], won=False)  # the money goes back out: a loss
    _run(world, "p2")
    statement = world.statement()
    assert statement["costs"][0]["amount"] == 0  # nothing to recoup from any more
    assert statement["distributable"] < 0
    assert statement["undistributed"] == statement["distributable"]
    assert statement["parties"][0]["amount"] == 0


def test_unknown_charges_are_findings(world: World) -> None:
    order = world.buy([(0, 1)])
    world.books.charge("pi_not_ours", 999)
    stranger = world.books.charges["pi_not_ours"]

    class NamesOurVenue(StripeBooks):
        def retrieve_payment_intent(self, intent_id: str) -> Any:
            intent = super().retrieve_payment_intent(intent_id)
            intent.metadata.update({"venue_id": world.venue.id})  # type: ignore[attr-defined]
            return intent

    books = NamesOurVenue(charges=world.books.charges)
    with world.database.unit_of_work() as uow:
        events, found = unknown_charges(uow.session, books, world.clock.now(), timedelta(days=3650))
    assert events == {(world.venue.id, "event", world.event["id"])}  # ours, not collected yet
    assert found == 1
    findings = ok(world.client.get("/v1/finance/findings", headers=world.venue.headers))["data"]
    assert [(f["kind"], f["reference"]) for f in findings] == [
        ("unknown_charge", f"bt:{stranger['id']}")]  # fmt: skip
    assert order["id"]


class DyingDatabase(Database):
    """The worker is killed at its `die_at`-th unit of work: before the commit (it is
    lost) or just after it (it is kept, but nothing after it runs)."""

    def __init__(self, real: Database, die_at: int, after_commit: bool) -> None:
        super().__init__(real.engine)
        self.count, self.die_at, self.after = 0, die_at, after_commit

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        self.count += 1
        dying = self.count == self.die_at
        with super().unit_of_work() as uow:
            yield uow
            if dying and not self.after:
                raise Killed(f"killed before commit {self.count}")
        if dying and self.after:
            raise Killed(f"killed after commit {self.count}")


def test_a_worker_killed_anywhere_resumes_to_the_same_ledger(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    def story() -> World:
        world = build(client, database, clock, tiers=[(2000, 2100, None), (5000, 900, 100)],
                      platform_fee_bps=1000, costs=[1000], shares=[5000, 3000, 2000])  # fmt: skip
        a, b, c = world.buy([(0, 2)]), world.buy([(1, 1)]), world.buy([(0, 1), (1, 1)])
        world.refund(a, 500)
        world.dispute(b, won=False)
        world.dispute(c, won=True)
        return world

    def entries(world: World) -> list[tuple[str, str, int]]:
        """The event's ledger, with the ids that differ from story to story named by role."""
        txns = [t["id"] for t in world.books.all()]
        names = {world.event["id"]: "EVT", **{t: f"T{i}" for i, t in enumerate(txns)},
                 **{p["party"]["id"]: f"P{i}" for i, p in enumerate(world.statement()["parties"])}}  # fmt: skip
        mine = [(ref, code, amount) for ref, code, amount in ledger(database)
                if world.event["id"] in ref or ref.split(":", 1)[1] in txns]  # fmt: skip
        return sorted((_anon(ref, names), _anon(code, names), amount) for ref, code, amount in mine)

    reference = story()
    _run(reference, "p")
    expected = entries(reference)
    assert expected
    crash_points = [("stripe", n) for n in range(1, 7)]  # 3 charges, 1 refund, 2 disputes
    crash_points += [("db", n) for n in range(1, 12)]  # every unit of work of the run
    killed = 0
    for where, n in crash_points:
        for after_commit in (False, True):
            world = story()
            dying: Any = DyingDatabase(database, n, after_commit) if where == "db" else database
            books = world.books
            books.die_at = n if where == "stripe" else None
            try:
                reconcile_event(dying, books, world.event["id"], clock.now(), period="p")
            except Killed:
                killed += 1
            books.die_at = None
            reconcile_event(database, books, world.event["id"], clock.now(), period="p")
            assert entries(world) == expected, (where, n)
    assert killed == 2 * len(crash_points)  # every point was really reached


def _anon(text: str, ids: dict[str, str]) -> str:
    for real, name in ids.items():
        text = text.replace(real, name)
    return text


def test_each_order_is_split_under_the_rule_it_was_sold_with(world: World) -> None:
    first = [world.buy([(0, 1)]) for _ in range(3)]
    venue_party = {"type": "venue", "id": world.venue.id}
    ok(world.client.put(f"/v1/events/{world.event['id']}/split-rule", headers=world.venue.headers,
                        json={"platform_fee_bps": 0, "costs": [],
                              "shares": [{"party": venue_party, "bps": 10_000}]}))  # fmt: skip
    later = [world.buy([(0, 1)]) for _ in range(2)]
    assert {o["id"] for o in first + later} == {o["id"] for o in world.orders}
    _run(world)
    refs = {ref for ref, _, _ in ledger(world.database) if ref.startswith("split:")}
    assert refs == {f"split:{world.event['id']}:v1:p1", f"split:{world.event['id']}:v2:p1"}
    statement = world.statement()
    by_bps = {p["party"]["type"]: p for p in statement["parties"]}
    assert by_bps["venue"]["bps"] == 10_000  # the latest version's shares are shown
    performers = [p for p in statement["parties"] if p["party"]["type"] == "performer"]
    assert len(performers) == 2 and all(p["amount"] > 0 for p in performers)  # v1 only
    assert sum(p["amount"] for p in statement["parties"]) == statement["distributable"]


def test_a_ledger_that_differs_from_stripe_is_a_finding(world: World) -> None:
    world.buy([(0, 1)])
    _run(world)
    event_id = world.event["id"]
    with world.database.unit_of_work() as uow:  # someone posted a sale Stripe never saw
        post(uow.session, venue_id=world.venue.id, reference="manual:1", currency="EUR",
             lines=[Line("stripe_balance", 100), Line(f"sales:{event_id}", -100)],
             now=world.clock.now(), event_id=event_id)  # fmt: skip
    assert _run(world, "p2").findings == 1
    findings = ok(world.client.get("/v1/finance/findings", headers=world.venue.headers))["data"]
    assert [(f["kind"], f["detail"]) for f in findings] == [
        ("ledger_mismatch", f"sales:{event_id}: Stripe reports -2000, the ledger holds -2100")]  # fmt: skip


def test_beat_starts_one_job_per_event_with_recent_activity(world: World) -> None:
    world.buy([(0, 1)])
    quiet = build(world.client, world.database, world.clock, tiers=[(1000, 900, None)],
                  platform_fee_bps=0, costs=[], shares=[10_000], venue=world.venue)  # fmt: skip
    later = world.clock.now() + timedelta(days=1)
    with world.database.unit_of_work() as uow:
        started = start_recent_jobs(uow.session, world.books, later, timedelta(days=3))
    assert len(started) == 1
    job = ok(world.client.get(f"/v1/jobs/{started[0]}", headers=world.venue.headers))
    assert (job["subject_id"], job["status"]) == (world.event["id"], "queued")
    assert quiet.event["id"] not in str(job)
    with world.database.unit_of_work() as uow:  # one is queued already: none more
        assert start_recent_jobs(uow.session, world.books, later, timedelta(days=3)) == []
    with world.database.engine.begin() as conn:
        conn.execute(text("UPDATE jobs SET status = 'succeeded'"))
    with world.database.unit_of_work() as uow:  # outside the window: nothing to do
        assert (
            start_recent_jobs(
                uow.session, world.books, later + timedelta(days=10), timedelta(days=3)
            )
            == []
        )
    with world.database.unit_of_work() as uow:  # inside it again, with the last job done
        assert len(start_recent_jobs(uow.session, world.books, later, timedelta(days=3))) == 1
