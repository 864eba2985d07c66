from __future__ import annotations

from typing import Any

from sqlalchemy import text
from starlette.testclient import TestClient

from streamsvc.kit.clock import FixedClock
from tests.factories import make_event, make_tier, make_venue, ok, published_event, tier_body


def _sell(engine: Any, tier_id: str, sold: int, held: int = 0) -> None:
    # Orders arrive with a later issue; until then sales are set directly.
    with engine.begin() as conn:
        conn.execute(text("UPDATE tiers SET sold = :s, held = :h WHERE id = :id"),
                     {"s": sold, "h": held, "id": tier_id})  # fmt: skip


def test_fixed_and_pay_what_you_want_tiers(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    event = make_event(client, venue, clock.now())
    fixed = make_tier(client, venue, event["id"])
    assert fixed["id"].startswith("tier_")
    assert (fixed["price_amount"], fixed["currency"], fixed["capacity"]) == (1950, "EUR", None)
    assert fixed["available"] is None
    assert fixed["access"] == {
        "quality": "hd", "extras": ["backstage_camera"], "in_venue": False,
        "rewatch_hours": 0, "max_devices": 2, "on_device_limit": "refuse",
    }  # fmt: skip
    pwyw = make_tier(client, venue, event["id"], name="Supporter", price_amount=None,
                     pay_what_you_want={"min_amount": 500, "suggested_amount": 2500})  # fmt: skip
    assert pwyw["price_amount"] == 2500
    assert pwyw["pay_what_you_want"] == {"min_amount": 500, "suggested_amount": 2500}
    listed = ok(client.get(f"/v1/events/{event['id']}/tiers", headers=venue.headers))
    assert [t["id"] for t in listed["data"]] == [fixed["id"], pwyw["id"]]


def test_tier_rules_name_their_fields(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    online = make_event(client, venue, clock.now(), attendance_mode="online")
    url = f"/v1/events/{online['id']}/tiers"
    cases = [
        (tier_body(price_amount=None), {"price_amount"}),
        (tier_body(price_amount=-1), {"price_amount"}),
        (tier_body(price_amount=10**12), {"price_amount"}),
        (tier_body(capacity=0), {"capacity"}),
        (tier_body(vat_rate_bps=10_001), {"vat_rate_bps"}),
        (tier_body(pay_what_you_want={"min_amount": 900, "suggested_amount": 100}),
         {"pay_what_you_want.suggested_amount"}),
        (tier_body(access={"quality": "4k"}), {"access.quality"}),
        (tier_body(access={"quality": "sd", "in_venue": True}),
         {"capacity", "access.in_venue"}),
        (tier_body(sales_start="2026-12-05T10:00:00+01:00", sales_end="2026-12-04T10:00:00+01:00"),
         {"sales_end"}),
        (tier_body(surprise=True), {"surprise"}),
    ]  # fmt: skip
    for body, fields in cases:
        response = client.post(url, json=body, headers=venue.headers)
        assert response.status_code == 422, (body, response.text)
        assert set(response.json()["error"]["fields"]) == fields, (body, response.text)
    assert ok(client.get(url, headers=venue.headers))["data"] == []


def test_in_venue_tier_on_a_hybrid_event(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    event = make_event(client, venue, clock.now(), attendance_mode="hybrid")
    seat = make_tier(client, venue, event["id"], name="Stalls", capacity=300,
                     access={"quality": "sd", "in_venue": True})  # fmt: skip
    assert seat["capacity"] == 300 and seat["available"] == 300
    cleared = client.patch(f"/v1/tiers/{seat['id']}", json={"capacity": None},
                           headers=venue.headers)  # fmt: skip
    assert cleared.status_code == 422
    assert cleared.json()["error"]["fields"] == {"capacity": "in-venue tiers need a capacity"}


def test_capacity_and_price_cannot_drop_below_sales(
    client: TestClient, clock: FixedClock, engine: Any
) -> None:
    venue = make_venue(client)
    event = make_event(client, venue, clock.now())
    tier = make_tier(client, venue, event["id"], capacity=100)
    _sell(engine, tier["id"], sold=40, held=5)
    url = f"/v1/tiers/{tier['id']}"
    low = client.patch(url, json={"capacity": 44}, headers=venue.headers)
    assert low.status_code == 409
    assert low.json()["error"]["code"] == "capacity_below_sold"
    assert low.json()["error"]["fields"] == {"capacity": "at least 45"}
    assert ok(client.patch(url, json={"capacity": 45}, headers=venue.headers))["available"] == 0
    cheaper = client.patch(url, json={"price_amount": 1000}, headers=venue.headers)
    assert cheaper.status_code == 409
    assert cheaper.json()["error"]["code"] == "price_below_sold"
    dearer = ok(client.patch(url, json={"price_amount": 2500}, headers=venue.headers))
    assert dearer["price_amount"] == 2500


def test_the_database_refuses_overselling(
    client: TestClient, clock: FixedClock, engine: Any
) -> None:
    venue = make_venue(client)
    tier = make_tier(client, venue, make_event(client, venue, clock.now())["id"], capacity=10)
    try:
        _sell(engine, tier["id"], sold=11)
    except Exception as exc:
        assert "tier_within_capacity" in str(exc)
    else:
        raise AssertionError("the capacity check constraint did not fire")


def test_tiers_of_ended_events_cannot_change(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    event = published_event(client, venue, clock.now())
    [tier] = ok(client.get(f"/v1/events/{event['id']}/tiers", headers=venue.headers))["data"]
    url = f"/v1/tiers/{tier['id']}"
    assert ok(client.patch(url, json={"name": "Renamed"}, headers=venue.headers))
    clock.advance(days=11)  # past ends_at: the event has ended by the clock
    response = client.patch(url, json={"name": "Too late"}, headers=venue.headers)
    assert response.status_code == 409
    assert response.json()["error"]["current_status"] == "ended"
    added = client.post(f"/v1/events/{event['id']}/tiers", json=tier_body(), headers=venue.headers)
    assert added.status_code == 409


def test_a_price_below_the_payment_providers_minimum_is_refused(
    client: TestClient, clock: FixedClock
) -> None:
    venue = make_venue(client)
    event = make_event(client, venue, clock.now())  # the venue's currency, EUR
    url = f"/v1/events/{event['id']}/tiers"
    # 0 is no longer among the refused prices: free tiers exist now (issue 17), their
    # orders issue tickets without a payment (test_free_tiers_and_free_choices_are_allowed).
    for body, field in [
        (tier_body(price_amount=49), "price_amount"),
        (tier_body(price_amount=1), "price_amount"),
        (tier_body(price_amount=None,
                   pay_what_you_want={"min_amount": 49, "suggested_amount": 500}),
         "pay_what_you_want.min_amount"),
        (tier_body(price_amount=None, pay_what_you_want={"min_amount": 1, "suggested_amount": 500}),
         "pay_what_you_want.min_amount"),
    ]:  # fmt: skip
        response = client.post(url, json=body, headers=venue.headers)
        assert response.status_code == 422, (body, response.text)
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert "at least 50" in error["fields"][field], error
        assert (error["minimum_amount"], error["currency"]) == (50, "EUR")
    assert ok(client.get(url, headers=venue.headers))["data"] == []
    cheapest = make_tier(client, venue, event["id"], price_amount=50)
    assert cheapest["price_amount"] == 50
    pwyw = make_tier(client, venue, event["id"], price_amount=None,
                     pay_what_you_want={"min_amount": 50, "suggested_amount": 50})  # fmt: skip
    assert pwyw["pay_what_you_want"] == {"min_amount": 50, "suggested_amount": 50}

    tier_url = f"/v1/tiers/{cheapest['id']}"
    lowered = client.patch(tier_url, json={"price_amount": 49}, headers=venue.headers)
    assert lowered.status_code == 422
    assert set(lowered.json()["error"]["fields"]) == {"price_amount"}
    pwyw_lowered = client.patch(
        f"/v1/tiers/{pwyw['id']}",
        json={"pay_what_you_want": {"min_amount": 10, "suggested_amount": 50}},
        headers=venue.headers,
    )
    assert pwyw_lowered.status_code == 422
    assert set(pwyw_lowered.json()["error"]["fields"]) == {"pay_what_you_want.min_amount"}
    assert ok(client.patch(tier_url, json={"name": "Cheap seat"}, headers=venue.headers))
    assert ok(client.get(url, headers=venue.headers))["data"][0]["price_amount"] == 50


def test_the_minimum_follows_the_events_currency(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    for currency, minimum in [("GBP", 30), ("HUF", 17_500), ("SEK", 300), ("JPY", 50)]:
        event = make_event(client, venue, clock.now(), currency=currency)
        url = f"/v1/events/{event['id']}/tiers"
        below = client.post(url, json=tier_body(price_amount=minimum - 1), headers=venue.headers)
        assert below.status_code == 422, (currency, below.text)
        error = below.json()["error"]
        assert f"at least {minimum}" in error["fields"]["price_amount"], error
        assert (error["minimum_amount"], error["currency"]) == (minimum, currency)
        tier = make_tier(client, venue, event["id"], price_amount=minimum)
        assert (tier["price_amount"], tier["currency"]) == (minimum, currency)


def test_free_tiers_and_free_choices_are_allowed(client: TestClient, clock: FixedClock) -> None:
    """A price of 0 is a free tier, a pay-what-you-want minimum of 0 lets the buyer
    choose free; between 0 and the provider's minimum is still refused."""
    venue = make_venue(client)
    event = make_event(client, venue, clock.now())
    free = make_tier(client, venue, event["id"], name="Free stream", price_amount=0)
    assert free["price_amount"] == 0 and free["pay_what_you_want"] is None
    choose = make_tier(client, venue, event["id"], name="Donate", price_amount=None,
                       pay_what_you_want={"min_amount": 0, "suggested_amount": 1000})  # fmt: skip
    assert choose["pay_what_you_want"] == {"min_amount": 0, "suggested_amount": 1000}
    assert choose["price_amount"] == 1000
    # A paid tier may become free while nothing is sold, and back again.
    paid = make_tier(client, venue, event["id"], price_amount=1500)
    assert ok(client.patch(f"/v1/tiers/{paid['id']}", json={"price_amount": 0},
                           headers=venue.headers))["price_amount"] == 0  # fmt: skip
    raised = client.patch(f"/v1/tiers/{paid['id']}", json={"price_amount": 30},
                          headers=venue.headers)  # fmt: skip
    assert raised.status_code == 422
    assert "0 (free) or at least 50" in raised.json()["error"]["fields"]["price_amount"]
