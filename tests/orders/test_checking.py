"""A failed attempt to pay leaves the order pending; "check with Stripe" applies a late
payment exactly once, as its webhook would, and is rate-limited per order.

Against localstripe: the buyer's card is charged (or declined) there, and no webhook
reaches the test client, so the order waits exactly as when Stripe's webhook is late.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.errors import NotFound, RateLimited
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import checking
from streamsvc.orders.buying import expired_pending
from streamsvc.orders.fulfilment import expire
from streamsvc.orders.models import Order
from streamsvc.payments.factory import gateway_from_settings
from streamsvc.payments.gateway import PaymentGateway
from tests.conftest import RecordingQueue
from tests.factories import buy, ok
from tests.orders import scenarios as s
from tests.stripe_helpers import LocalStripeError, pay_with_card

pytestmark = pytest.mark.stripe

DECLINED = "4000000000000341"  # attaches, then the charge is declined


@pytest.fixture
def gateway(settings: Settings) -> Iterator[PaymentGateway]:
    gateway = gateway_from_settings(settings)
    yield gateway
    getattr(gateway, "close", lambda: None)()


def _check(settings: Settings, database: Database, gateway: PaymentGateway, clock: FixedClock,
           order: dict[str, Any], token: str | None = None) -> checking.PaymentCheck:  # fmt: skip
    async def run() -> checking.PaymentCheck:
        redis = aioredis.Redis.from_url(settings.require("redis_url"))
        try:
            return await checking.check_with_stripe(
                redis, database, gateway, order_id=order["id"],
                order_token=token or order["order_token"], now=clock.now(),
                limit_per_minute=settings.payment_check_rate_per_order,
            )  # fmt: skip
        finally:
            await redis.aclose()

    return asyncio.run(run())


def _tier(client: TestClient, venue: Any, event_id: str) -> dict[str, Any]:
    tiers: list[dict[str, Any]] = ok(
        client.get(f"/v1/events/{event_id}/tiers", headers=venue.headers)
    )["data"]
    return next(t for t in tiers if t["name"] == "Limited")


def test_a_declined_card_leaves_the_order_pending_with_its_seats_until_it_expires(
    client: TestClient, clock: FixedClock, database: Database, shop: Any, settings: Settings,
    gateway: PaymentGateway,
) -> None:  # fmt: skip
    venue, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=2)
    # The webhook of a declined card (payment_intent.payment_failed), as Stripe sends it.
    s.deliver(client, s.failed(order))
    s.drain(database, clock)
    staff = ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))
    assert staff["status"] == "pending"
    assert (
        _tier(client, venue, event["id"])["held"],
        _tier(client, venue, event["id"])["sold"],
    ) == (2, 0)
    with database.unit_of_work() as uow:
        stored = uow.session.get(Order, order["id"])
        assert stored is not None and stored.payment_error == "card_declined"

    # The reservation still ends when it expires, as for any unpaid order.
    clock.advance(minutes=settings.reservation_minutes + 1)
    with database.unit_of_work() as uow:
        due = expired_pending(uow.session, clock.now())
    assert due == [order["id"]]
    expire(database, gateway, order["id"], clock.now())
    assert ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))["status"] == "expired"
    assert _tier(client, venue, event["id"])["held"] == 0


def test_after_a_decline_a_later_success_of_the_same_intent_pays_the_order(
    client: TestClient, clock: FixedClock, database: Database, shop: Any, localstripe: str,
    followups: RecordingQueue,
) -> None:  # fmt: skip
    venue, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=2)
    s.deliver(client, s.failed(order))
    s.drain(database, clock)
    s.deliver(client, s.succeeded(order))
    s.drain(database, clock)
    staff = ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))
    assert staff["status"] == "paid" and len(staff["tickets"]) == 2
    tier = _tier(client, venue, event["id"])
    assert (tier["held"], tier["sold"]) == (0, 2)
    assert followups.names() == ["orders.send_tickets"]


def test_a_cancelled_intent_still_ends_the_order(
    client: TestClient, clock: FixedClock, database: Database, shop: Any
) -> None:
    venue, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=2)
    pi = s.stripe_object("payment_intent", id=order["payment"]["payment_intent_id"],
                         status="canceled", metadata={"order_id": order["id"]})  # fmt: skip
    s.deliver(client, s.event("payment_intent.canceled", pi))
    s.drain(database, clock)
    assert ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))["status"] == "failed"
    assert _tier(client, venue, event["id"])["held"] == 0


def test_checking_with_stripe_pays_a_late_order_once_and_the_webhook_then_changes_nothing(
    client: TestClient, clock: FixedClock, database: Database, shop: Any, settings: Settings,
    gateway: PaymentGateway, localstripe: str, followups: RecordingQueue,
) -> None:  # fmt: skip
    venue, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=2)
    assert _check(settings, database, gateway, clock, order) == checking.PaymentCheck(
        "pending", "requires_payment_method"
    )
    pay_with_card(localstripe, order["payment"]["payment_intent_id"])  # no webhook comes

    found = _check(settings, database, gateway, clock, order)
    assert found == checking.PaymentCheck("paid", "succeeded")
    staff = ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))
    assert (staff["status"], staff["paid_amount"], len(staff["tickets"])) == ("paid", 4000, 2)
    assert followups.names() == ["orders.send_tickets"]

    # The webhook arrives after all: recorded, processed, and nothing changes.
    late = s.succeeded(order)
    before = s.snapshot(database, order["id"], [])
    s.deliver(client, late)
    assert s.drain(database, clock) == 1
    assert s.snapshot(database, order["id"], []) == before
    assert followups.names() == ["orders.send_tickets"]
    # A paid order is not asked about again.
    assert _check(settings, database, gateway, clock, order) == checking.PaymentCheck("paid", None)


def test_checking_records_why_the_card_was_declined(
    client: TestClient, clock: FixedClock, database: Database, shop: Any, settings: Settings,
    gateway: PaymentGateway, localstripe: str,
) -> None:  # fmt: skip
    _, event, tier_id = shop
    order = buy(client, event["id"], tier_id)
    with pytest.raises(LocalStripeError):
        pay_with_card(localstripe, order["payment"]["payment_intent_id"], DECLINED)
    found = _check(settings, database, gateway, clock, order)
    assert found == checking.PaymentCheck("pending", "requires_payment_method")
    with database.unit_of_work() as uow:
        stored = uow.session.get(Order, order["id"])
        assert stored is not None and stored.payment_error == "card_declined"


def test_checking_is_rate_limited_per_order_and_needs_the_token(
    client: TestClient, clock: FixedClock, database: Database, shop: Any, infra: Any,
    gateway: PaymentGateway,
) -> None:  # fmt: skip
    settings = infra.settings(payment_check_rate_per_order=2)
    _, event, tier_id = shop
    order = buy(client, event["id"], tier_id)
    other = buy(client, event["id"], tier_id, email="other@example.org")
    with pytest.raises(NotFound):
        _check(settings, database, gateway, clock, order, token=other["order_token"])
    for _ in range(2):
        assert _check(settings, database, gateway, clock, order).order_status == "pending"
    with pytest.raises(RateLimited) as refused:
        _check(settings, database, gateway, clock, order)
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
    # Another order has its own budget; the next minute brings a new one.
    assert _check(settings, database, gateway, clock, other).order_status == "pending"
    clock.advance(minutes=1)
    assert _check(settings, database, gateway, clock, order).order_status == "pending"
