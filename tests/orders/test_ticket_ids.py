"""Tickets are named by their id in order views and in revocation; codes stay out of
staff URLs (a code is the buyer's bearer secret)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from tests.factories import VenueHandle, buy, ok
from tests.orders import scenarios as s


def test_order_views_show_ticket_ids_and_revocation_goes_by_id(
    shop: tuple[VenueHandle, dict[str, Any], str],
    client: TestClient,
    database: Database,
    clock: FixedClock,
) -> None:
    venue, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=2)
    s.deliver(client, s.succeeded(order))
    s.drain(database, clock)

    public = ok(client.get(f"/v1/public/orders/{order['id']}",
                           headers={"X-Order-Token": order["order_token"]}))  # fmt: skip
    staff = ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))
    assert len(public["tickets"]) == 2
    assert public["tickets"] == staff["tickets"]
    for ticket in staff["tickets"]:
        assert ticket["id"].startswith("tkt_") and ticket["id"] != ticket["code"]

    first, second = staff["tickets"]
    revoked = ok(client.post(f"/v1/tickets/{first['id']}/revoke", headers=venue.headers))
    assert revoked == {**first, "status": "revoked"}
    after = ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))["tickets"]
    assert after == [{**first, "status": "revoked"}, second]
    # The buyer sees it too, and the revoked ticket no longer plays.
    mine = ok(client.get(f"/v1/public/orders/{order['id']}",
                         headers={"X-Order-Token": order["order_token"]}))  # fmt: skip
    assert [t["status"] for t in mine["tickets"]] == ["revoked", "valid"]
    # A code is not an id: revoking by code finds nothing.
    assert client.post(f"/v1/tickets/{second['code']}/revoke",
                       headers=venue.headers).status_code == 404  # fmt: skip


def test_no_staff_route_takes_a_ticket_code(client: TestClient) -> None:
    """A key-holder's operation names a ticket by its id, never by its code (a URL is
    logged on the way by proxies and browsers; a code is a bearer secret)."""
    spec = client.get("/openapi.json").json()
    staff_paths_with_a_code = [
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") and "{code}" in path
    ]
    assert staff_paths_with_a_code == []
    assert "security" not in spec["paths"]["/v1/tickets/{code}/sessions"]["post"]
    assert spec["paths"]["/v1/tickets/{ticket_id}/revoke"]["post"]["security"] == [{"admin": []}]
