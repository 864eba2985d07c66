"""An order's Idempotency-Key is scoped to the buyer: a replay, which hands back the
order token, reaches only whoever sends the same key with the same e-mail."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from streamsvc.orders.placing import idempotency_scope
from tests.factories import VenueHandle, ok

KEY = {"Idempotency-Key": "3f0c1a52-8f3e-4c57-9d5e-2b7f4f3c9a10"}


def _body(tier_id: str, email: str) -> dict[str, Any]:
    return {"email": email, "country": "NL", "items": [{"tier_id": tier_id, "quantity": 1}]}


def test_the_same_key_and_body_replay_the_first_answer(
    shop: tuple[VenueHandle, dict[str, Any], str], client: TestClient
) -> None:
    venue, event, tier_id = shop
    url = f"/v1/public/events/{event['id']}/orders"
    first = client.post(url, json=_body(tier_id, "ann@example.org"), headers=KEY)
    again = client.post(url, json=_body(tier_id, "ann@example.org"), headers=KEY)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    [tier] = ok(client.get(f"/v1/events/{event['id']}/tiers", headers=venue.headers))["data"][1:]
    assert tier["held"] == 1


def test_another_email_with_the_same_key_never_gets_the_first_order(
    shop: tuple[VenueHandle, dict[str, Any], str], client: TestClient
) -> None:
    venue, event, tier_id = shop
    url = f"/v1/public/events/{event['id']}/orders"
    first = ok(client.post(url, json=_body(tier_id, "ann@example.org"), headers=KEY), 201)
    # Someone who learnt (or guessed) Ann's key, with the otherwise same order.
    other = client.post(url, json=_body(tier_id, "mallory@example.org"), headers=KEY)
    assert other.status_code == 201, other.text  # a fresh order of their own
    assert other.json()["order_token"] != first["order_token"]
    assert other.json()["id"] != first["id"]
    assert first["order_token"] not in other.text
    # Ann's retry still replays Ann's order; Mallory's replays Mallory's.
    again = ok(client.post(url, json=_body(tier_id, "ann@example.org"), headers=KEY), 201)
    assert again == first
    theirs = ok(client.post(url, json=_body(tier_id, "mallory@example.org"), headers=KEY), 201)
    assert theirs == other.json()
    [tier] = ok(client.get(f"/v1/events/{event['id']}/tiers", headers=venue.headers))["data"][1:]
    assert tier["held"] == 2


def test_the_email_is_compared_in_lower_case(
    shop: tuple[VenueHandle, dict[str, Any], str], client: TestClient
) -> None:
    """One buyer whatever the case of their address: another body is a 409, not a
    second order (and the first answer is not handed to another body either)."""
    _, event, tier_id = shop
    url = f"/v1/public/events/{event['id']}/orders"
    first = ok(client.post(url, json=_body(tier_id, "ann@example.org"), headers=KEY), 201)
    shouted = client.post(url, json=_body(tier_id, "Ann@Example.ORG"), headers=KEY)
    assert shouted.status_code == 409
    assert shouted.json()["error"]["code"] == "idempotency_key_reused"
    assert first["order_token"] not in shouted.text
    assert idempotency_scope(event["id"], " Ann@Example.ORG") == idempotency_scope(
        event["id"], "ann@example.org"
    )


def test_the_key_advice_is_in_the_openapi_description(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    buying = spec["paths"]["/v1/public/events/{event_id}/orders"]["post"]
    assert "Idempotency-Key" in buying["description"]
    assert "random UUID" in buying["description"]
