"""Bundle tiers over the API: components with their own VAT rates, validated as a whole
(errors name the field), shown in the tier, fixed once the tier has sales, and copied
onto the order item at purchase so a later edit never changes what was sold."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from starlette.testclient import TestClient

from streamsvc.kit.clock import FixedClock
from tests.factories import buy, make_event, make_tier, make_venue, ok, put_split_rule, tier_body

ADMISSION = {"label": "Admission", "amount": 1200, "vat_rate_bps": 900}
STREAM = {"label": "Stream", "amount": 1800, "vat_rate_bps": 2100}


def _fields(answer: Any) -> dict[str, str]:
    assert answer.status_code == 422, answer.text
    fields: dict[str, str] = answer.json()["error"]["fields"]
    return fields


def test_a_bundle_tier_states_its_components(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    event = make_event(client, venue, clock.now())
    tier = make_tier(client, venue, event["id"], name="Hall + stream", price_amount=3000,
                     components=[ADMISSION, STREAM])  # fmt: skip
    assert tier["components"] == [ADMISSION, STREAM]
    listed = ok(client.get(f"/v1/events/{event['id']}/tiers", headers=venue.headers))
    assert listed["data"][0]["components"] == [ADMISSION, STREAM]
    assert make_tier(client, venue, event["id"])["components"] == []
    # A pay-what-you-want bundle: the suggestion is the price the parts sum to.
    pwyw = make_tier(client, venue, event["id"], name="Supporter bundle", price_amount=None,
                     pay_what_you_want={"min_amount": 0, "suggested_amount": 3000},
                     components=[ADMISSION, STREAM])  # fmt: skip
    assert pwyw["components"] == [ADMISSION, STREAM]


def test_bundle_errors_name_the_field(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    event = make_event(client, venue, clock.now())
    url = f"/v1/events/{event['id']}/tiers"

    def refused(**over: Any) -> dict[str, str]:
        return _fields(client.post(url, json=tier_body(price_amount=3000, **over),
                                   headers=venue.headers))  # fmt: skip

    assert "sum to price_amount (3100)" in _fields(client.post(url, json=tier_body(
        price_amount=3100, components=[ADMISSION, STREAM]), headers=venue.headers))["components"]  # fmt: skip
    assert "at least 2" in refused(components=[{**ADMISSION, "amount": 3000}])["components"]
    assert "at most 4" in refused(components=[ADMISSION, STREAM] * 3)["components"]
    assert set(refused(components=[ADMISSION, {**STREAM, "vat_rate_bps": 7000}])) == {
        "components[1].vat_rate_bps"}  # fmt: skip
    assert set(refused(components=[ADMISSION, {**STREAM, "label": "ADMISSION"}])) == {
        "components[1].label"}  # fmt: skip
    assert "components[0].amount" in refused(components=[{**ADMISSION, "amount": 0}, STREAM])
    assert "components[1].colour" in refused(components=[ADMISSION, {**STREAM, "colour": "red"}])
    tier = make_tier(client, venue, event["id"], price_amount=3000, components=[ADMISSION, STREAM])
    tier_url = f"/v1/tiers/{tier['id']}"
    # The price moves with its parts, or the parts say why not.
    assert "components" in _fields(client.patch(tier_url, json={"price_amount": 3500},
                                                headers=venue.headers))  # fmt: skip
    assert "components" in _fields(client.patch(tier_url, json={"components": None},
                                                headers=venue.headers))  # fmt: skip
    moved = ok(client.patch(tier_url, headers=venue.headers, json={
        "price_amount": 3500, "components": [ADMISSION, {**STREAM, "amount": 2300}]}))  # fmt: skip
    assert moved["components"][1]["amount"] == 2300
    one_rate = ok(client.patch(tier_url, json={"components": []}, headers=venue.headers))
    assert one_rate["components"] == [] and one_rate["vat_rate_bps"] == 2100


def test_components_are_fixed_once_sold_and_copied_onto_the_order(
    client: TestClient, clock: FixedClock, engine: Any
) -> None:
    venue = make_venue(client)
    event = make_event(client, venue, clock.now())
    tier = make_tier(client, venue, event["id"], price_amount=3000, components=[ADMISSION, STREAM])
    put_split_rule(client, venue, event["id"])
    ok(client.post(f"/v1/events/{event['id']}/publish", headers=venue.headers))
    order = buy(client, event["id"], tier["id"], quantity=2)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT components FROM order_items WHERE order_id = :o"),
                              {"o": order["id"]}).scalar_one()  # fmt: skip
    assert stored == [ADMISSION, STREAM]
    changed = client.patch(f"/v1/tiers/{tier['id']}", headers=venue.headers,
                           json={"components": [{**ADMISSION, "amount": 1000},
                                                {**STREAM, "amount": 2000}]})  # fmt: skip
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "components_fixed"
    assert changed.json()["error"]["fields"] == {"components": "fixed while tickets are sold"}
