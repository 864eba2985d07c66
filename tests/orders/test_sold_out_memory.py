"""The API process's memory of tiers seen sold out (orders/sold_out.py): the next
buyers of such a tier are refused without a transaction, as the database refused;
a seat given back is for sale again once the memory lapses; and it never sells: under
concurrency exactly the capacity is sold, as without it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, cast

import pytest
from sqlalchemy import event as sa_event
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.catalog.models import Tier
from streamsvc.db import Database
from streamsvc.errors import Conflict, ServiceError
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import buying, placing
from streamsvc.orders.models import OrderStatus
from streamsvc.orders.schemas import OrderCreate
from streamsvc.orders.sold_out import SoldOutMemory
from streamsvc.payments.factory import gateway_from_settings
from streamsvc.payments.gateway import PaymentGateway
from tests.factories import make_tier, make_venue, published_event
from tests.orders.test_free_orders import NoStripe

TTL = timedelta(seconds=1)


@contextmanager
def database_calls(database: Database) -> Iterator[list[str]]:
    """Every connection taken from the pool and every statement sent, while open."""
    calls: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
        calls.append(sql)

    def checkout(*_args: Any) -> None:
        calls.append("checkout")

    sa_event.listen(database.engine, "before_cursor_execute", statement)
    sa_event.listen(database.engine.pool, "checkout", checkout)
    try:
        yield calls
    finally:
        sa_event.remove(database.engine, "before_cursor_execute", statement)
        sa_event.remove(database.engine.pool, "checkout", checkout)


def _order(tier_id: str, n: int, quantity: int = 1, **over: Any) -> OrderCreate:
    return OrderCreate.model_validate({"email": f"fan{n}@example.org", "country": "NL",
                                       "items": [{"tier_id": tier_id, "quantity": quantity}],
                                       **over})  # fmt: skip


def _event(client: TestClient, clock: FixedClock, **tier: Any) -> tuple[str, str]:
    venue = make_venue(client)
    event = published_event(client, venue, clock.now())
    return event["id"], make_tier(client, venue, event["id"], name="Stalls", **tier)["id"]


class Buyers:
    """place_order as the API route calls it, with one process's memory."""

    def __init__(
        self, database: Database, gateway: Any, settings: Settings, clock: FixedClock,
        event_id: str,
    ) -> None:  # fmt: skip
        self.database, self.gateway, self.settings, self.clock = database, gateway, settings, clock
        self.event_id = event_id
        self.memory = SoldOutMemory(TTL)

    def buy(self, order: OrderCreate, key: str | None = None) -> placing.Placed:
        return placing.place_order(
            self.database, cast(PaymentGateway, self.gateway), self.settings, self.clock,
            event_id=self.event_id, request=order, locale="en", idempotency_key=key,
            sold_out=self.memory,
        )  # fmt: skip

    def refusal(self, order: OrderCreate, key: str | None = None) -> ServiceError:
        with pytest.raises(ServiceError) as refused:
            self.buy(order, key)
        return refused.value


def test_a_tier_seen_sold_out_is_refused_without_the_database(
    client: TestClient, clock: FixedClock, settings: Settings, database: Database
) -> None:
    event_id, tier_id = _event(client, clock, price_amount=0, capacity=2)
    buyers = Buyers(database, NoStripe(), settings, clock, event_id)
    assert buyers.buy(_order(tier_id, 1)).answer["status"] == "paid"
    first = buyers.refusal(_order(tier_id, 2, quantity=2))  # 1 left: the database says so
    assert (first.code, first.fields) == ("sold_out", {"items[0].quantity": "1 left"})
    with database_calls(database) as calls:
        again = buyers.refusal(_order(tier_id, 3, quantity=2))
    assert calls == []
    assert (again.status, again.body()) == (first.status, first.body())
    # What the memory cannot refuse goes to the database: one seat is still there.
    with database_calls(database) as calls:
        assert buyers.buy(_order(tier_id, 4)).answer["status"] == "paid"
    assert calls
    buyers.refusal(_order(tier_id, 5))  # the database: 0 left, remembered
    with database_calls(database) as calls:
        last = buyers.refusal(_order(tier_id, 6))
    assert (calls, last.fields) == ([], {"items[0].quantity": "0 left"})


def test_a_seat_given_back_is_sold_again_once_the_memory_lapses(
    client: TestClient, clock: FixedClock, settings: Settings, database: Database
) -> None:
    event_id, tier_id = _event(client, clock, capacity=1)
    gateway = gateway_from_settings(settings)
    buyers = Buyers(database, gateway, settings, clock, event_id)
    held = buyers.buy(_order(tier_id, 1)).answer
    assert held["status"] == "pending"
    assert buyers.refusal(_order(tier_id, 2)).code == "sold_out"
    with database.unit_of_work() as uow:  # the reservation lapses, as the expiry task does
        order = buying.lock_order(uow.session, held["id"])
        assert order is not None
        buying.release_hold(uow.session, order, OrderStatus.expired, clock.now())
    clock.advance(seconds=0.999)  # still remembered: at most this long a stale refusal
    with database_calls(database) as calls:
        assert buyers.refusal(_order(tier_id, 3)).code == "sold_out"
    assert calls == []
    clock.advance(seconds=0.001)
    assert buyers.buy(_order(tier_id, 3)).answer["status"] == "pending"


def test_a_retry_with_the_key_of_a_placed_order_is_its_replay_not_sold_out(
    client: TestClient, clock: FixedClock, settings: Settings, database: Database
) -> None:
    event_id, tier_id = _event(client, clock, price_amount=0, capacity=1)
    buyers = Buyers(database, NoStripe(), settings, clock, event_id)
    placed = buyers.buy(_order(tier_id, 1), key="attempt-1")
    assert buyers.refusal(_order(tier_id, 2), key="attempt-2").code == "sold_out"
    assert buyers.buy(_order(tier_id, 1), key="attempt-1") == placed
    with database_calls(database) as calls:  # a key never used: one read of the key
        assert buyers.refusal(_order(tier_id, 3), key="attempt-3").code == "sold_out"
    assert calls.count("checkout") == 1
    assert all(sql.lstrip().startswith("SELECT") for sql in calls if sql != "checkout")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"country": "DE"}, "country_not_allowed"),  # the event: NL and BE
        ({"items": [{"tier_id": "TIER", "quantity": 11}]}, "validation_error"),  # over 10
        ({"items": [{"tier_id": "TIER", "quantity": 1}] * 2}, "validation_error"),  # twice
        ({"items": [{"tier_id": "TIER", "quantity": 1, "amount": 500}]}, "validation_error"),
    ],
)
def test_what_the_database_refuses_first_is_still_its_answer(
    client: TestClient, clock: FixedClock, settings: Settings, database: Database,
    change: dict[str, Any], code: str,
) -> None:  # fmt: skip
    event_id, tier_id = _event(client, clock, price_amount=0, capacity=1)
    buyers = Buyers(database, NoStripe(), settings, clock, event_id)
    buyers.buy(_order(tier_id, 1))
    assert buyers.refusal(_order(tier_id, 2)).code == "sold_out"
    items = [{**item, "tier_id": tier_id} for item in change.get("items", [])]
    order = _order(tier_id, 3, **{**change, **({"items": items} if items else {})})
    assert buyers.refusal(order).code == code


def test_a_memory_of_zero_seconds_remembers_nothing(
    client: TestClient, clock: FixedClock, settings: Settings, database: Database
) -> None:
    event_id, tier_id = _event(client, clock, price_amount=0, capacity=1)
    buyers = Buyers(database, NoStripe(), settings, clock, event_id)
    buyers.memory = SoldOutMemory(timedelta(0))
    buyers.buy(_order(tier_id, 1))
    buyers.refusal(_order(tier_id, 2))
    with database_calls(database) as calls:
        assert buyers.refusal(_order(tier_id, 3)).code == "sold_out"
    assert calls


def test_exactly_the_capacity_is_sold_under_concurrency_with_the_memory(
    client: TestClient, clock: FixedClock, settings: Settings, database: Database
) -> None:
    seats, buyers_count = 5, 40
    event_id, tier_id = _event(client, clock, price_amount=0, capacity=seats)
    buyers = Buyers(database, NoStripe(), settings, clock, event_id)
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def buyer(first: int) -> None:
        start.wait()
        for n in range(first, buyers_count, 8):
            try:
                outcomes.append(str(buyers.buy(_order(tier_id, n)).answer["status"]))
            except Conflict as refused:
                outcomes.append(refused.code)

    threads = [threading.Thread(target=buyer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["paid"] * seats + ["sold_out"] * (buyers_count - seats)
    with database.unit_of_work() as uow:
        tier = uow.session.get(Tier, tier_id)
        assert tier is not None
        assert (tier.sold, tier.held) == (seats, 0)


def test_the_api_refuses_a_tier_it_saw_sold_out_before_any_transaction(
    client: TestClient, clock: FixedClock
) -> None:
    event_id, tier_id = _event(client, clock, price_amount=0, capacity=1)
    url = f"/v1/public/events/{event_id}/orders"

    def body(n: int) -> dict[str, Any]:
        return {"email": f"fan{n}@example.org", "country": "NL",
                "items": [{"tier_id": tier_id, "quantity": 1}]}  # fmt: skip

    assert client.post(url, json=body(1)).status_code == 201
    first = client.post(url, json=body(2))  # the database refuses, the process remembers
    database = cast(Any, client.app).state.resources.database
    with database_calls(database) as calls:
        again = client.post(url, json=body(3))
    assert calls == []
    assert (again.status_code, again.json()) == (first.status_code, first.json()) == (
        409, {"error": {"code": "sold_out", "message": "Not enough tickets left.",
                        "fields": {"items[0].quantity": "0 left"}}},
    )  # fmt: skip
    # With an Idempotency-Key the request may be a replay: its key is read first.
    with database_calls(database) as calls:
        keyed = client.post(url, json=body(4), headers={"Idempotency-Key": "k-4"})
    assert keyed.json() == first.json()
    assert calls.count("checkout") == 1
