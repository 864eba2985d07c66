"""The buyer reads the order with the token in X-Order-Token (preferred) or, for older
clients, the order_token query parameter."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.factories import VenueHandle, buy, ok


def test_the_order_token_header(
    shop: tuple[VenueHandle, dict[str, Any], str], client: TestClient
) -> None:
    _, event, tier_id = shop
    order = buy(client, event["id"], tier_id)
    url, token = f"/v1/public/orders/{order['id']}", order["order_token"]
    by_header = ok(client.get(url, headers={"X-Order-Token": token}))
    assert by_header["id"] == order["id"] and by_header["status"] == "pending"
    assert ok(client.get(url, headers={"x-order-token": token})) == by_header
    assert ok(client.get(url, params={"order_token": token})) == by_header  # still read
    # The header wins over the query parameter, either way round.
    assert client.get(url, params={"order_token": token},
                      headers={"X-Order-Token": "guess"}).status_code == 404  # fmt: skip
    assert ok(client.get(url, params={"order_token": "guess"},
                         headers={"X-Order-Token": token})) == by_header  # fmt: skip
    assert client.get(url, headers={"X-Order-Token": "guess"}).status_code == 404
    missing = client.get(url)
    assert missing.status_code == 422
    assert missing.json()["error"]["fields"] == {"header.X-Order-Token": "required"}
    too_long = client.get(url, headers={"X-Order-Token": "x" * 101})
    assert too_long.status_code == 422
    assert set(too_long.json()["error"]["fields"]) == {"header.X-Order-Token"}


def test_the_header_is_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    read = spec["paths"]["/v1/public/orders/{order_id}"]["get"]
    params = {(p["in"], p["name"]): p for p in read["parameters"]}
    header = params["header", "X-Order-Token"]
    assert header["required"] is False
    assert {"type": "string", "minLength": 1, "maxLength": 100} in header["schema"]["anyOf"]
    query = params["query", "order_token"]
    assert query["deprecated"] is True and query["required"] is False
    assert "X-Order-Token" in read["description"]
    assert "422" in read["responses"] and "404" in read["responses"]
