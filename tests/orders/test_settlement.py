"""Every Stripe event has its effect exactly once, whatever the order of delivery.

Each scenario's events are delivered three times over, shuffled, through the real
webhook route with real signatures, and the inbox is processed in between at random
moments; the end state must be the one the scenario expects.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database, make_engine
from streamsvc.kit.clock import FixedClock
from streamsvc.orders.buying import expired_pending
from streamsvc.orders.fulfilment import expire
from streamsvc.payments.factory import gateway_from_settings
from tests.conftest import RecordingQueue
from tests.factories import VenueHandle, buy, make_tier, make_venue, ok, published_event
from tests.orders import scenarios as s


@pytest.fixture
def database(settings: Settings) -> Any:
    database = Database(make_engine(settings.require("database_url"), pool_size=2))
    yield database
    database.dispose()


@pytest.fixture
def shop(client: TestClient, clock: FixedClock) -> tuple[VenueHandle, dict[str, Any], str]:
    venue = make_venue(client)
    event = published_event(client, venue, clock.now())
    tier = make_tier(client, venue, event["id"], name="Limited", capacity=10, price_amount=2000)
    return venue, event, tier["id"]


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


Builder = Callable[[dict[str, Any]], list[dict[str, Any]]]
SCENARIOS: dict[str, tuple[Builder, dict[str, Any]]] = {
    "paid": (lambda o: [s.succeeded(o)],
             {"status": "paid", "refunded": 0, "dispute": None, "tickets": ["valid"] * 2,
              "refunds": [], "sold": 2, "held": 0}),
    "partially refunded": (lambda o: [s.succeeded(o), s.refund(o, "re_part", 500)],
             {"status": "partially_refunded", "refunded": 500, "dispute": None,
              "tickets": ["valid"] * 2, "refunds": [("re_part", 500, "succeeded")],
              "sold": 2, "held": 0}),
    "refunded in two parts": (lambda o: [
                s.succeeded(o), s.refund(o, "re_a", 1000), s.refund(o, "re_b", 3000),
                s.charge_refunded(o, [("re_a", 1000), ("re_b", 3000)])],
             {"status": "refunded", "refunded": 4000, "dispute": None,
              "tickets": ["revoked"] * 2,
              "refunds": [("re_a", 1000, "succeeded"), ("re_b", 3000, "succeeded")],
              "sold": 2, "held": 0}),
    "failed refund": (lambda o: [s.succeeded(o), s.refund(o, "re_x", 4000, "pending"),
                                 s.refund(o, "re_x", 4000, "failed")],
             {"status": "paid", "refunded": 0, "dispute": None, "tickets": ["valid"] * 2,
              "refunds": [("re_x", 4000, "failed")], "sold": 2, "held": 0}),
    "dispute open": (lambda o: [s.succeeded(o), s.dispute(o, "dp_1", "created", "needs_response")],
             {"status": "disputed", "refunded": 0, "dispute": "open",
              "tickets": ["suspended"] * 2, "refunds": [], "sold": 2, "held": 0}),
    "dispute won": (lambda o: [s.succeeded(o), s.dispute(o, "dp_1", "created", "needs_response"),
                               s.dispute(o, "dp_1", "closed", "won")],
             {"status": "paid", "refunded": 0, "dispute": "won", "tickets": ["valid"] * 2,
              "refunds": [], "sold": 2, "held": 0}),
    "dispute lost": (lambda o: [s.succeeded(o), s.dispute(o, "dp_1", "created", "needs_response"),
                                s.dispute(o, "dp_1", "closed", "lost")],
             {"status": "disputed", "refunded": 0, "dispute": "lost",
              "tickets": ["revoked"] * 2, "refunds": [], "sold": 2, "held": 0}),
    "failed, then paid": (lambda o: [s.failed(o), s.succeeded(o)],
             {"status": "paid", "refunded": 0, "dispute": None, "tickets": ["valid"] * 2,
              "refunds": [], "sold": 2, "held": 0}),
}  # fmt: skip


@pytest.mark.parametrize("name", list(SCENARIOS))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_events_shuffled_and_repeated_give_one_end_state(
    client: TestClient, clock: FixedClock, database: Database, queue: RecordingQueue,
    shop: Any, name: str, seed: int,
) -> None:  # fmt: skip
    venue, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=2)
    build, expected = SCENARIOS[name]
    events = build(order)
    deliveries = events * 3
    rng = random.Random(seed)
    rng.shuffle(deliveries)
    followups = RecordingQueue()
    for evt in deliveries:
        s.deliver(client, evt)
        if rng.random() < 0.5:
            s.drain(database, clock, followups.enqueue)
    s.drain(database, clock, followups.enqueue)
    assert _state(client, venue, order["id"], event["id"], tier_id) == expected
    # Each event was enqueued for processing once, however often Stripe sent it.
    assert queue.names().count("payments.process_stripe_event") == len({e["id"] for e in events})
    assert followups.names().count("orders.send_tickets") == 1


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
    s.drain(database, clock, RecordingQueue().enqueue)
    state = _state(client, venue, order["id"], event["id"], tier_id)
    assert (state["status"], state["sold"], state["held"]) == ("paid", 2, 0)


def test_payment_after_expiry_is_refunded_when_sold_out(
    client: TestClient, clock: FixedClock, database: Database, shop: Any, settings: Settings
) -> None:
    venue, event, tier_id = shop
    late = buy(client, event["id"], tier_id, quantity=2)
    clock.advance(minutes=settings.reservation_minutes + 1)
    _expire_all(database, clock, settings)
    rest = buy(client, event["id"], tier_id, quantity=9, email="quick@example.org")
    s.deliver(client, s.succeeded(rest))
    followups = RecordingQueue()
    s.deliver(client, s.succeeded(late))
    s.drain(database, clock, followups.enqueue)
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
        expire(database, gateway, order_id, clock.now(), RecordingQueue().enqueue)
