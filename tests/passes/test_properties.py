"""Property test of a pass's money: random seasons (events, price, VAT, weights), random
holders, claims, refunds (ours, and made in Stripe's dashboard: passes/outside.py),
cancellations and ends of events, in random order. After
every step: recognised + deferred + VAT + refunds = payments to the cent, every
holding's shares sum to what it paid, each share is settled at most once, and the
venue's ledger balances."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.errors import Conflict
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import cancellation
from streamsvc.orders.models import Order
from streamsvc.passes import claims, outside, recognition
from streamsvc.passes.models import LateRefund, PassShare, ShareState, Weighting
from tests.orders import scenarios
from tests.passes.season import Season, largest_remainder, make_season

step = st.tuples(st.sampled_from(["claim", "refund", "outside", "cancel", "end"]),
                 st.integers(0, 9), st.integers(0, 9))  # fmt: skip


@st.composite
def seasons(draw: st.DrawFn) -> dict[str, Any]:
    events = draw(st.integers(1, 4))
    return {
        "events": events,
        "price": draw(st.integers(500, 30_000)),
        "vat": draw(st.sampled_from([0, 600, 900, 2100])),
        "weighting": draw(st.sampled_from(list(Weighting))),
        "late_refund": draw(st.sampled_from(list(LateRefund))),
        "tier_prices": draw(
            st.lists(st.just(0) | st.integers(50, 9_000), min_size=events, max_size=events)
        ),
        "holders": draw(st.integers(1, 3)),
        "steps": draw(st.lists(step, max_size=8)),
    }


def _check(season: Season, database: Database, plan: dict[str, Any]) -> None:
    money = season.money()
    assert money.recognised + money.deferred + money.vat + money.refunds == money.payments
    assert money.payments == plan["price"] * len(season.holders)
    with database.unit_of_work() as uow:
        shares = list(uow.session.exec(select(PassShare).where(
            PassShare.pass_id == season.pass_id)))  # fmt: skip
        # What is left of each share after dashboard refunds took their parts.
        left = recognition.left_of(uow.session, shares)
        deferred = sum(left[s.holding_id, s.event_id][0] for s in shares
                       if s.state == ShareState.deferred)  # fmt: skip
        recognised = sum(left[s.holding_id, s.event_id][0] for s in shares
                         if s.state == ShareState.recognised)  # fmt: skip
        unreturned_vat = sum(left[s.holding_id, s.event_id][1] for s in shares
                             if s.state != ShareState.refunded)  # fmt: skip
        unbalanced = uow.session.execute(text(
            "SELECT count(*) FROM (SELECT t.id FROM ledger_transactions t JOIN ledger_entries e "
            "ON e.transaction_id = t.id WHERE t.venue_id = :v GROUP BY t.id "
            "HAVING sum(e.amount) <> 0) x"), {"v": season.venue.id}).scalar()  # fmt: skip
    assert unbalanced == 0
    assert (money.deferred, money.recognised, money.vat) == (deferred, recognised, unreturned_vat)
    for holder in season.holders:
        mine = [s for s in shares if s.holding_id == holder["holding_id"]]
        assert sum(s.net + s.vat for s in mine) == plan["price"]
        weights = [1] * len(mine)
        if plan["weighting"] == Weighting.list_price and any(plan["tier_prices"]):
            weights = plan["tier_prices"][: len(mine)]
        vat = largest_remainder(plan["price"], [10_000, plan["vat"]])[1] if plan["vat"] else 0
        by_event = {s.event_id: s for s in mine}
        ordered = [by_event[c.event["id"]] for c in season.concerts]
        assert [s.net for s in ordered] == largest_remainder(plan["price"] - vat, weights)


START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=seasons())
def test_pass_money_keeps_its_identity(
    plan: dict[str, Any], client: TestClient, database: Database, settings: Settings,
    clock: FixedClock,
) -> None:  # fmt: skip
    # The fixtures are made once for all examples, and an example moves the clock past
    # the events it ends: every example starts at the same moment (the app shares it).
    clock.at = START
    season = make_season(
        client, database, settings, clock, concerts=plan["events"], price=plan["price"],
        vat_bps=plan["vat"], weighting=plan["weighting"], late_refund=plan["late_refund"],
        tier_prices=plan["tier_prices"],
    )  # fmt: skip
    for _ in range(plan["holders"]):
        season.buy_pass()
    _check(season, database, plan)
    ended: set[int] = set()
    for action, a, b in plan["steps"]:
        holder = season.holders[a % len(season.holders)]
        concert = b % plan["events"]
        event_id = season.concerts[concert].event["id"]
        if action == "claim" and concert not in ended:
            with database.unit_of_work() as uow:
                try:
                    claims.claim(uow, settings, holder["holding_id"], event_id, clock.now())
                except Conflict:
                    uow.session.rollback()  # refunded, cancelled: refused, nothing changed
        elif action == "refund":
            try:
                with database.unit_of_work() as uow:
                    recognition.refund_holding(uow.session, season.venue.id,
                                               holder["holding_id"], clock.now(), reason="asked")  # fmt: skip
            except Conflict:
                pass  # nothing left, or a used pass that allows no refund
        elif action == "outside":
            # A refund made in Stripe's dashboard, of up to what is left of the payment.
            with database.unit_of_work() as uow:
                order = uow.session.get(Order, holder["id"])
                assert order is not None
                left = order.paid_amount - order.refunded_amount
            if left > 0:
                amount = max(1, left * (b + 1) // 10)
                refund = scenarios.charge_refunded(
                    holder, [(f"re_prop{scenarios.moment()}", amount)]
                )
                scenarios.deliver(client, refund)
                scenarios.drain(database, clock)
                outside.absorb_outside_changes(database, clock.now())
        elif action == "cancel" and concert not in ended:
            try:
                with database.unit_of_work() as uow:
                    cancellation.cancel_event(uow.session, season.venue.id, event_id, clock.now())
            except Conflict:
                pass
            season.settle(concert)
            ended.add(concert)
        elif action == "end" and concert not in ended:
            # Events end in start order: ending this one ends those before it too.
            season.end(concert)
            for earlier in range(concert + 1):
                season.settle(earlier)
                ended.add(earlier)
        _check(season, database, plan)
