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
