from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from streamsvc.kit.clock import FixedClock
from tests.factories import buy, make_tier, make_venue, ok, published_event
from tests.stripe_helpers import get_object


def _event_with_tiers(client: TestClient, clock: FixedClock) -> tuple[Any, Any, dict[str, Any]]:
    venue = make_venue(client)
    event = published_event(client, venue, clock.now())
    [hd] = ok(client.get(f"/v1/events/{event['id']}/tiers", headers=venue.headers))["data"]
    seats = make_tier(client, venue, event["id"], name="Stalls", capacity=3, price_amount=8500,
                      vat_rate_bps=900, access={"quality": "hd", "in_venue": True})  # fmt: skip
    pwyw = make_tier(client, venue, event["id"], name="Supporter", price_amount=None,
                     pay_what_you_want={"min_amount": 500, "suggested_amount": 2500},
                     access={"quality": "sd"})  # fmt: skip
    return venue, event, {"hd": hd, "seats": seats, "pwyw": pwyw}


def test_an_order_reserves_capacity_and_creates_a_payment_intent(
    client: TestClient, clock: FixedClock, localstripe: str
) -> None:
    venue, event, tiers = _event_with_tiers(client, clock)
    order = buy(client, event["id"], tiers["seats"]["id"], quantity=2)
    assert order["id"].startswith("ord_") and order["status"] == "pending"
    assert (order["total_amount"], order["currency"]) == (17000, "EUR")
    assert order["order_token"] and order["expires_at"] > event["published_at"]
    payment = order["payment"]
    assert payment["provider"] == "stripe" and payment["client_secret"]
    intent = get_object(localstripe, f"/v1/payment_intents/{payment['payment_intent_id']}")
    assert intent["amount"] == 17000
    assert intent["metadata"] == {"order_id": order["id"], "event_id": event["id"],
                                  "venue_id": venue.id}  # fmt: skip
    seats = ok(client.get(f"/v1/events/{event['id']}/tiers", headers=venue.headers))["data"][1]
    assert (seats["held"], seats["sold"], seats["available"]) == (2, 0, 1)
    # The buyer reads the order with its token, nobody without.
    url = f"/v1/public/orders/{order['id']}"
    mine = ok(client.get(url, params={"order_token": order["order_token"]}))
    assert mine["status"] == "pending" and mine["tickets"] == []
    assert client.get(url, params={"order_token": "guess"}).status_code == 404


def test_pay_what_you_want_needs_the_minimum(client: TestClient, clock: FixedClock) -> None:
    _, event, tiers = _event_with_tiers(client, clock)
    item = {"tier_id": tiers["pwyw"]["id"], "quantity": 1}
    low = client.post(f"/v1/public/events/{event['id']}/orders",
                      json={"email": "a@b.nl", "country": "NL", "items": [{**item, "amount": 499}]})  # fmt: skip
    assert low.status_code == 422
    assert low.json()["error"]["fields"] == {"items[0].amount": "at least 500"}
    order = buy(client, event["id"], tiers["pwyw"]["id"], items=[{**item, "amount": 4000}])
    assert order["total_amount"] == 4000


def test_order_input_is_checked_field_by_field(client: TestClient, clock: FixedClock) -> None:
    venue, event, tiers = _event_with_tiers(client, clock)
    other = published_event(client, venue, clock.now())
    [foreign] = ok(client.get(f"/v1/events/{other['id']}/tiers", headers=venue.headers))["data"]
    response = client.post(
        f"/v1/public/events/{event['id']}/orders",
        json={"email": "a@b.nl", "country": "NL", "items": [
            {"tier_id": foreign["id"], "quantity": 1},
            {"tier_id": tiers["hd"]["id"], "quantity": 11},
            {"tier_id": tiers["seats"]["id"], "quantity": 1, "amount": 100},
        ]},
    )  # fmt: skip
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {
        "items[0].tier_id": "not a tier of this event",
        "items[1].quantity": "at most 10",
        "items[2].amount": "only for pay-what-you-want tiers",
    }
    bad = client.post(f"/v1/public/events/{event['id']}/orders",
                      json={"email": "nope", "items": [], "coupon": "x"})  # fmt: skip
    assert bad.status_code == 422
    assert set(bad.json()["error"]["fields"]) == {"email", "items", "coupon"}
    # Nothing was held by the refused orders.
    listed = ok(client.get(f"/v1/events/{event['id']}/tiers", headers=venue.headers))["data"]
    assert all(t["held"] == 0 for t in listed)


def test_sold_out_and_sales_closed(client: TestClient, clock: FixedClock) -> None:
    _, event, tiers = _event_with_tiers(client, clock)
    buy(client, event["id"], tiers["seats"]["id"], quantity=3)
    response = client.post(f"/v1/public/events/{event['id']}/orders", json={
        "email": "late@example.org", "country": "NL",
        "items": [{"tier_id": tiers["seats"]["id"], "quantity": 1}]})  # fmt: skip
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "sold_out"
    assert response.json()["error"]["fields"] == {"items[0].quantity": "0 left"}
    clock.advance(days=11)  # the event has ended
    closed = client.post(f"/v1/public/events/{event['id']}/orders", json={
        "email": "late@example.org", "country": "NL",
        "items": [{"tier_id": tiers["hd"]["id"], "quantity": 1}]})  # fmt: skip
    assert closed.status_code == 409
    assert closed.json()["error"]["code"] == "sales_closed"


def test_countries_outside_the_event_are_refused(client: TestClient, clock: FixedClock) -> None:
    _, event, tiers = _event_with_tiers(client, clock)  # allowed: NL, BE
    response = client.post(f"/v1/public/events/{event['id']}/orders", json={
        "email": "a@b.de", "country": "DE", "items": [{"tier_id": tiers["hd"]["id"], "quantity": 1}]})  # fmt: skip
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "country_not_allowed"


def test_idempotency_key_replays_the_first_answer(client: TestClient, clock: FixedClock) -> None:
    venue, event, tiers = _event_with_tiers(client, clock)
    url = f"/v1/public/events/{event['id']}/orders"
    body = {"email": "a@b.nl", "country": "NL",
            "items": [{"tier_id": tiers["seats"]["id"], "quantity": 1}]}  # fmt: skip
    first = client.post(url, json=body, headers={"Idempotency-Key": "checkout-1"})
    again = client.post(url, json=body, headers={"Idempotency-Key": "checkout-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    # The same buyer with another body under the key: a mistake, refused.
    other = client.post(
        url, json={**body, "country": "BE"}, headers={"Idempotency-Key": "checkout-1"}
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    seats = ok(client.get(f"/v1/events/{event['id']}/tiers", headers=venue.headers))["data"][1]
    assert seats["held"] == 1  # one reservation, not two
    assert client.post(url, json=body, headers={"Idempotency-Key": "bad key"}).status_code == 400


def test_orders_are_rate_limited(client: TestClient, clock: FixedClock, settings: Any) -> None:
    _, event, tiers = _event_with_tiers(client, clock)
    url = f"/v1/public/events/{event['id']}/orders"
    body = {"email": "eager@example.org", "country": "NL",
            "items": [{"tier_id": tiers["hd"]["id"], "quantity": 1}]}  # fmt: skip
    statuses = [client.post(url, json=body).status_code
                for _ in range(settings.order_rate_per_email + 1)]  # fmt: skip
    assert statuses[:-1] == [201] * settings.order_rate_per_email
    assert statuses[-1] == 429
    limited = client.post(url, json=body)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert limited.json()["error"]["code"] == "rate_limited"


def test_idempotency_keys_are_forgotten_after_a_day(
    client: TestClient, clock: FixedClock, settings: Any
) -> None:
    from datetime import timedelta

    from streamsvc import idempotency
    from streamsvc.db import Database, make_engine

    _, event, tiers = _event_with_tiers(client, clock)
    url = f"/v1/public/events/{event['id']}/orders"
    body = {
        "email": "a@b.nl",
        "country": "NL",
        "items": [{"tier_id": tiers["hd"]["id"], "quantity": 1}],
    }
    first = client.post(url, json=body, headers={"Idempotency-Key": "k-1"}).json()
    database = Database(make_engine(settings.require("database_url"), pool_size=1))
    with database.unit_of_work() as uow:
        assert idempotency.purge(uow.session, clock.now() - timedelta(days=1)) == 0
    with database.unit_of_work() as uow:
        assert idempotency.purge(uow.session, clock.now() + timedelta(seconds=1)) == 1
    database.dispose()
    second = client.post(url, json=body, headers={"Idempotency-Key": "k-1"}).json()
    assert second["id"] != first["id"]  # a new order: the key was forgotten
