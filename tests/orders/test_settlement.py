"""Every Stripe event has its effect exactly once, whatever the order of delivery.

Hypothesis delivers each scenario's events through the real webhook route (real
signatures) in generated orders, each event one to three times, with the worker
running what was enqueued at generated moments in between. The end state must be
the scenario's, every fact recorded once, and a second processing of any event
(a task run twice) must change nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.orders.buying import expired_pending
from streamsvc.orders.fulfilment import expire
from streamsvc.payments.factory import gateway_from_settings
from tests.conftest import RecordingQueue
from tests.factories import VenueHandle, buy, make_tier, ok
from tests.harness import Infrastructure
from tests.orders import scenarios as s


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    # Dozens of orders from one test client: no rate limit in the way.
    return infra.settings(order_rate_per_ip=100_000, order_rate_per_email=100_000)


def _state(
    client: TestClient, venue: VenueHandle, order_id: str, event_id: str, tier_id: str
) -> Any:
    order = ok(client.get(f"/v1/orders/{order_id}", headers=venue.headers))
    tiers = ok(client.get(f"/v1/events/{event_id}/tiers", headers=venue.headers))["data"]
    tier = next(t for t in tiers if t["id"] == tier_id)
    return {
        "status": order["status"],
        "refunded": order["refunded_amount"],
        "dispute": order["dispute_status"],
        "tickets": sorted(t["status"] for t in order["tickets"]),
        "refunds": sorted(
            (r["stripe_refund_id"], r["amount"], r["status"]) for r in order["refunds"]
        ),
        "sold": tier["sold"],
        "held": tier["held"],
    }


# A scenario's events for an order; `n` makes Stripe's ids (refunds, disputes) unique to
# the example, `at` is a Stripe `created` second shared by events of the same moment.
Builder = Callable[[dict[str, Any], str, int], list[dict[str, Any]]]
SCENARIOS: dict[str, tuple[Builder, dict[str, Any]]] = {
    "paid": (lambda o, n, at: [s.succeeded(o)],
             {"status": "paid", "refunded": 0, "dispute": None, "tickets": ["valid"] * 2,
              "refunds": [], "sold": 2, "held": 0}),
    "partially refunded": (lambda o, n, at: [s.succeeded(o), s.refund(o, f"re_part{n}", 500)],
             {"status": "partially_refunded", "refunded": 500, "dispute": None,
              "tickets": ["valid"] * 2, "refunds": [("re_part", 500, "succeeded")],
              "sold": 2, "held": 0}),
    "refunded in two parts": (lambda o, n, at: [
                s.succeeded(o), s.refund(o, f"re_a{n}", 1000), s.refund(o, f"re_b{n}", 3000),
                s.charge_refunded(o, [(f"re_a{n}", 1000), (f"re_b{n}", 3000)])],
             {"status": "refunded", "refunded": 4000, "dispute": None,
              "tickets": ["revoked"] * 2,
              "refunds": [("re_a", 1000, "succeeded"), ("re_b", 3000, "succeeded")],
              "sold": 2, "held": 0}),
    "failed refund": (lambda o, n, at: [s.succeeded(o), s.refund(o, f"re_x{n}", 4000, "pending"),
                                        s.refund(o, f"re_x{n}", 4000, "failed")],
             {"status": "paid", "refunded": 0, "dispute": None, "tickets": ["valid"] * 2,
              "refunds": [("re_x", 4000, "failed")], "sold": 2, "held": 0}),
    # Stripe stamps events to the second: a final status and an earlier one may share it.
    "refund pending and succeeded in one second": (lambda o, n, at: [
                s.succeeded(o), s.refund(o, f"re_s{n}", 4000, "pending", created=at),
                s.refund(o, f"re_s{n}", 4000, "succeeded", created=at)],
             {"status": "refunded", "refunded": 4000, "dispute": None,
              "tickets": ["revoked"] * 2, "refunds": [("re_s", 4000, "succeeded")],
              "sold": 2, "held": 0}),
    "dispute open": (lambda o, n, at: [s.succeeded(o),
                                       s.dispute(o, f"dp_1{n}", "created", "needs_response")],
             {"status": "disputed", "refunded": 0, "dispute": "open",
              "tickets": ["suspended"] * 2, "refunds": [], "sold": 2, "held": 0}),
    "dispute won": (lambda o, n, at: [s.succeeded(o),
                                      s.dispute(o, f"dp_1{n}", "created", "needs_response"),
                                      s.dispute(o, f"dp_1{n}", "closed", "won")],
             {"status": "paid", "refunded": 0, "dispute": "won", "tickets": ["valid"] * 2,
              "refunds": [], "sold": 2, "held": 0}),
    "dispute lost": (lambda o, n, at: [s.succeeded(o),
                                       s.dispute(o, f"dp_1{n}", "created", "needs_response"),
                                       s.dispute(o, f"dp_1{n}", "closed", "lost")],
             {"status": "disputed", "refunded": 0, "dispute": "lost",
              "tickets": ["revoked"] * 2, "refunds": [], "sold": 2, "held": 0}),
    "dispute reviewed and lost in one second": (lambda o, n, at: [s.succeeded(o),
                s.dispute(o, f"dp_2{n}", "created", "needs_response"),
                s.dispute(o, f"dp_2{n}", "updated", "under_review", created=at),
                s.dispute(o, f"dp_2{n}", "closed", "lost", created=at)],
             {"status": "disputed", "refunded": 0, "dispute": "lost",
              "tickets": ["revoked"] * 2, "refunds": [], "sold": 2, "held": 0}),
    "failed, then paid": (lambda o, n, at: [s.failed(o), s.succeeded(o)],
             {"status": "paid", "refunded": 0, "dispute": None, "tickets": ["valid"] * 2,
              "refunds": [], "sold": 2, "held": 0}),
}  # fmt: skip

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
_examples = itertools.count(1)


@st.composite
def deliveries(draw: st.DrawFn, events: int) -> list[tuple[int, bool]]:
    """Each of `events` delivered one to three times, in any order; after each delivery,
    whether the worker runs what was enqueued so far."""
    times = [draw(st.integers(1, 3)) for _ in range(events)]
    order = draw(st.permutations([i for i, n in enumerate(times) for _ in range(n)]))
    runs = draw(st.lists(st.booleans(), min_size=len(order), max_size=len(order)))
    return list(zip(order, runs, strict=True))


@pytest.mark.parametrize("name", list(SCENARIOS))
@hypothesis.settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data())
def test_any_delivery_order_gives_one_end_state_and_each_fact_once(
    client: TestClient, clock: FixedClock, database: Database, queue: RecordingQueue, followups: RecordingQueue,
    shop: Any, name: str, data: st.DataObject,
) -> None:  # fmt: skip
    # Each example has a tier, an order, Stripe ids and a queue of its own: no example
    # sees what another left behind.
    venue, event, _ = shop
    n = next(_examples)
    clock.at = START
    queue.sent.clear()
    followups.sent.clear()
    tier_id = make_tier(client, venue, event["id"], name=f"Limited {n}", capacity=10,
                        price_amount=2000)["id"]  # fmt: skip
    order = buy(client, event["id"], tier_id, quantity=2, email=f"buyer{n}@example.org")
    build, expected = SCENARIOS[name]
    events = build(order, f"_{n}", s.moment())
    ids = [e["id"] for e in events]
    plan = data.draw(deliveries(len(events)), label="deliveries (event index, worker runs)")

    worker = s.Worker(database, clock, queue.sent, followups.sent)
    first_processed: dict[str, datetime] = {}
    answers: list[tuple[str, bool]] = []
    for index, run in plan:
        evt = events[index]
        answers.append((evt["id"], s.deliver(client, evt)["duplicate"]))
        if run:
            for event_id in worker.run():
                first_processed.setdefault(event_id, clock.now())
            clock.advance(seconds=1)  # each run at its own moment: processed_at tells them apart
    for event_id in worker.run():
        first_processed.setdefault(event_id, clock.now())

    state = _state(client, venue, order["id"], event["id"], tier_id)
    state["refunds"] = [
        (rid.removesuffix(f"_{n}") if rid else rid, amount, status)
        for rid, amount, status in state["refunds"]
    ]
    assert state == expected

    # A duplicate is answered as one, and enqueued once: only first deliveries were new.
    seen: set[str] = set()
    for event_id, duplicate in answers:
        assert duplicate == (event_id in seen), (event_id, answers)
        seen.add(event_id)
    assert queue.names().count("payments.process_stripe_event") == len(ids)
    # Every event stored once and processed once, when the worker first ran after it came.
    facts = s.snapshot(database, order["id"], ids)
    assert {row["id"]: (row["status"], row["attempts"], row["processed_at"])
            for row in facts["inbox"]} == {
        event_id: ("processed", 1, first_processed[event_id]) for event_id in ids
    }  # fmt: skip
    assert len(facts["tickets"]) == 2 and len({t["serial"] for t in facts["tickets"]}) == 2
    stripe_ids = [r["stripe_refund_id"] for r in facts["refunds"]]
    assert len(stripe_ids) == len(set(stripe_ids)) == len(expected["refunds"])
    assert len(facts["disputes"]) == len({e["data"]["object"]["id"] for e in events
                                          if e["type"].startswith("charge.dispute")})  # fmt: skip
    assert [name for name, _ in worker.followups] == ["orders.send_tickets"]

    # A second processing of any event (a task run twice) changes nothing.
    clock.advance(hours=1)
    enqueued = list(worker.followups)
    for event_id in ids:
        assert worker.process(event_id) == "processed"
    assert s.snapshot(database, order["id"], ids) == facts
    assert worker.followups == enqueued


def test_bad_signatures_store_nothing(client: TestClient, database: Database, shop: Any) -> None:
    _, event, tier_id = shop
    order = buy(client, event["id"], tier_id)
    body, headers = s.signed_webhook(s.succeeded(order), "whsec_wrong")
    response = client.post("/v1/stripe/webhook", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert client.post("/v1/stripe/webhook", content=b"{}").status_code == 400
    with database.unit_of_work() as uow:
        assert uow.session.exec(select(s.StripeEvent)).first() is None


def test_unknown_event_types_are_stored_and_ignored(
    client: TestClient, clock: FixedClock, database: Database, queue: RecordingQueue
) -> None:
    evt = s.event("payout.paid", s.stripe_object("payout"))
    assert s.deliver(client, evt) == {"received": True, "duplicate": False}
    assert s.deliver(client, evt) == {"received": True, "duplicate": True}
    with database.unit_of_work() as uow:
        row = uow.session.get(s.StripeEvent, evt["id"])
        assert row is not None and row.status == "ignored"
    assert queue.sent == []


def test_payment_after_expiry_takes_the_seats_back_if_free(
    client: TestClient, clock: FixedClock, database: Database, shop: Any, settings: Settings
) -> None:
    venue, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=2)
    clock.advance(minutes=settings.reservation_minutes + 1)
    _expire_all(database, clock, settings)
    assert ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))["status"] == "expired"
    s.deliver(client, s.succeeded(order))
    s.drain(database, clock)
    state = _state(client, venue, order["id"], event["id"], tier_id)
    assert (state["status"], state["sold"], state["held"]) == ("paid", 2, 0)


def test_payment_after_expiry_is_refunded_when_sold_out(
    client: TestClient, clock: FixedClock, database: Database, shop: Any, settings: Settings,
    followups: RecordingQueue,
) -> None:  # fmt: skip
    venue, event, tier_id = shop
    late = buy(client, event["id"], tier_id, quantity=2)
    clock.advance(minutes=settings.reservation_minutes + 1)
    _expire_all(database, clock, settings)
    rest = buy(client, event["id"], tier_id, quantity=9, email="quick@example.org")
    s.deliver(client, s.succeeded(rest))
    followups.sent.clear()
    s.deliver(client, s.succeeded(late))
    s.drain(database, clock)
    state = _state(client, venue, late["id"], event["id"], tier_id)
    assert state["status"] == "refunded"
    assert state["tickets"] == []
    assert state["refunds"] == [(None, 4000, "requested")]
    assert (state["sold"], state["held"]) == (9, 0)
    assert followups.names().count("payments.submit_refund") == 1
    refund = ok(client.get(f"/v1/orders/{late['id']}", headers=venue.headers))["refunds"][0]
    assert refund["origin"] == "sold_out_after_expiry"


def _expire_all(database: Database, clock: FixedClock, settings: Settings) -> None:
    """What the expiry task does, against localstripe."""
    gateway = gateway_from_settings(settings)
    with database.unit_of_work() as uow:
        due = expired_pending(uow.session, clock.now())
    for order_id in due:
        expire(database, gateway, order_id, clock.now())
