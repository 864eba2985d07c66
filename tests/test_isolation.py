"""Tenant isolation: venue B's key never reaches venue A's objects, on any staff route.

The table below must name every staff route of the app (a test checks), so a new
route cannot skip this walk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import select
from starlette.routing import Route
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.db import Database, make_engine
from streamsvc.kit.clock import FixedClock
from streamsvc.orders.models import Ticket
from tests.factories import (
    VenueHandle,
    buy,
    make_event,
    make_performer,
    make_tier,
    make_venue,
    ok,
    published_event,
    put_split_rule,
    tier_body,
)
from tests.orders import scenarios as s
from tests.recordings.helpers import make_holder, published_recording, recording_body


@dataclass
class Tenants:
    a: VenueHandle
    b: VenueHandle
    ids: dict[str, str]  # A's objects, by path parameter name


def _split_rule(venue_id: str) -> dict[str, Any]:
    return {"platform_fee_bps": 0, "costs": [],
            "shares": [{"party": {"type": "venue", "id": venue_id}, "bps": 10_000}]}  # fmt: skip


# (method, path) -> a request body that is valid for the caller, or None.
STAFF_ROUTES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/api-keys"): lambda t: {"role": "finance", "label": "x"},
    ("GET", "/v1/api-keys"): None,
    ("DELETE", "/v1/api-keys/{key_id}"): None,
    ("POST", "/v1/performers"): lambda t: {"name": "B's singer", "email": "b@example.org"},
    ("GET", "/v1/performers"): None,
    ("GET", "/v1/performers/{performer_id}"): None,
    ("PATCH", "/v1/performers/{performer_id}"): lambda t: {"name": "Stolen"},
    ("POST", "/v1/events"): lambda t: {
        "title": "B's event",
        "starts_at": "2027-01-01T20:00:00+01:00",
        "ends_at": "2027-01-01T22:00:00+01:00",
        "timezone": "Europe/Amsterdam",
        "attendance_mode": "online",
        "performer_ids": [t.ids["performer_id"]],
    },
    ("GET", "/v1/events"): None,
    ("GET", "/v1/events/{event_id}"): None,
    ("PATCH", "/v1/events/{event_id}"): lambda t: {"title": "Hijacked"},
    ("POST", "/v1/events/{event_id}/publish"): None,
    ("POST", "/v1/events/{event_id}/tiers"): lambda t: tier_body(),
    ("GET", "/v1/events/{event_id}/tiers"): None,
    ("PATCH", "/v1/tiers/{tier_id}"): lambda t: {"name": "Hijacked", "price_amount": 1},
    ("PUT", "/v1/events/{event_id}/split-rule"): lambda t: _split_rule(t.b.id),
    ("GET", "/v1/events/{event_id}/split-rule"): None,
    ("POST", "/v1/events/{event_id}/cancel"): None,
    ("POST", "/v1/events/{event_id}/reschedule"): lambda t: {
        "starts_at": "2027-02-01T20:00:00+01:00"
    },
    ("POST", "/v1/tickets/{ticket_id}/revoke"): None,
    ("GET", "/v1/orders"): None,
    ("GET", "/v1/orders/{order_id}"): None,
    ("POST", "/v1/orders/{order_id}/refunds"): lambda t: {"amount": 100},
    ("GET", "/v1/jobs/{job_id}"): None,
    ("GET", "/v1/finance/ledger"): None,
    ("POST", "/v1/finance/reconciliations"): lambda t: {"event_id": t.ids["event_id"]},
    ("GET", "/v1/finance/findings"): None,
    ("GET", "/v1/finance/events/{event_id}/statement"): None,
    ("GET", "/v1/finance/recordings/{recording_id}/statement"): None,
    ("GET", "/v1/finance/splits"): None,
    ("GET", "/v1/finance/parties/{party_type}/{party_id}/statement"): None,
    ("GET", "/v1/audit"): None,
    # Recordings (streamsvc/recordings): B names A's performer, sets offers and rules.
    ("POST", "/v1/recordings"): lambda t: recording_body(performer_ids=[t.ids["performer_id"]]),
    ("GET", "/v1/recordings"): None,
    ("GET", "/v1/recordings/{recording_id}"): None,
    ("PATCH", "/v1/recordings/{recording_id}"): lambda t: {"title": "Hijacked"},
    ("POST", "/v1/recordings/{recording_id}/publish"): None,
    ("POST", "/v1/recordings/{recording_id}/withdraw"): None,
    ("PUT", "/v1/recordings/{recording_id}/offers"): lambda t: {"free": True},
    ("GET", "/v1/recordings/{recording_id}/offers"): None,
    ("PUT", "/v1/recordings/{recording_id}/split-rule"): lambda t: _split_rule(t.b.id),
    ("GET", "/v1/recordings/{recording_id}/split-rule"): None,
    ("POST", "/v1/rights-holders"): lambda t: {"name": "B's label", "email": "b@example.org"},
    ("GET", "/v1/rights-holders"): None,
    ("GET", "/v1/rights-holders/{holder_id}"): None,
    ("PATCH", "/v1/rights-holders/{holder_id}"): lambda t: {"name": "Stolen"},
    # Co-productions (streamsvc/coproductions): A's event, co-produced by a third venue.
    ("POST", "/v1/events/{event_id}/co-producers"): lambda t: {"venue_id": t.b.id},
    ("GET", "/v1/events/{event_id}/co-producers"): None,
    ("GET", "/v1/co-productions"): None,
    ("GET", "/v1/co-productions/{co_production_id}"): None,
    ("POST", "/v1/co-productions/{co_production_id}/accept"): None,
    ("POST", "/v1/co-productions/{co_production_id}/decline"): None,
    ("GET", "/v1/co-productions/{co_production_id}/statement"): None,
    ("POST", "/v1/co-productions/{co_production_id}/consent"): lambda t: {"version": 2},
    # B erases the address of A's buyer: only B's orders (none) may change.
    ("POST", "/v1/buyers/erase"): lambda t: {"email": "buyer@example.org"},
}


def _staff_routes() -> set[tuple[str, str]]:
    app = create_app(Settings(database_url="postgresql://x/y", redis_url="redis://x"))
    found = set()
    for route in app.routes:
        if not isinstance(route, Route):
            continue
        for method in route.methods or ():
            operation = getattr(route.endpoint, "__operation__", None)
            if method != "HEAD" and operation and operation.security in ("staff", "admin"):
                found.add((method, route.path))
    return found


def test_the_walk_covers_every_staff_route() -> None:
    assert _staff_routes() == set(STAFF_ROUTES)


@pytest.fixture
def tenants(client: TestClient, clock: FixedClock, settings: Settings) -> Tenants:
    a, b = make_venue(client, "Venue A"), make_venue(client, "Venue B")
    spare = ok(client.post("/v1/api-keys", json={"role": "admin", "label": "spare"},
                           headers=a.headers), 201)  # fmt: skip
    performer = make_performer(client, a)
    event = make_event(client, a, clock.now(), performer_ids=[performer["id"]])
    tier = make_tier(client, a, event["id"])
    put_split_rule(client, a, event["id"], [performer["id"]])
    ok(client.post(f"/v1/events/{event['id']}/publish", headers=a.headers))
    order = buy(client, event["id"], tier["id"])
    s.deliver(client, s.succeeded(order))  # paid, so it has a ticket
    database = Database(make_engine(settings.require("database_url"), pool_size=1))
    s.drain(database, clock)
    with database.unit_of_work() as uow:
        ticket_id = uow.session.exec(select(Ticket.id).where(Ticket.order_id == order["id"])).one()
    database.dispose()
    other = published_event(client, a, clock.now())
    job = ok(client.post(f"/v1/events/{other['id']}/cancel", headers=a.headers), 202)
    ids = {"event_id": event["id"], "tier_id": tier["id"], "performer_id": performer["id"],
           "key_id": spare["id"], "order_id": order["id"], "job_id": job["id"], "ticket_id": ticket_id}  # fmt: skip
    recording = published_recording(client, a, performer_ids=[performer["id"]])
    ids.update(recording_id=recording["id"], holder_id=make_holder(client, a)["id"])
    third = make_venue(client, "Venue C")
    invited = ok(client.post(f"/v1/events/{event['id']}/co-producers", headers=a.headers,
                             json={"venue_id": third.id}), 201)  # fmt: skip
    ok(client.post(f"/v1/co-productions/{invited['id']}/accept", headers=third.headers))
    ids["co_production_id"] = invited["id"]
    return Tenants(a, b, ids)


def _snapshot(client: TestClient, t: Tenants) -> list[Any]:
    """Everything of A's, read with A's key."""
    h, ids = t.a.headers, t.ids
    return [
        ok(client.get(f"/v1/events/{ids['event_id']}", headers=h)),
        ok(client.get(f"/v1/events/{ids['event_id']}/tiers", headers=h)),
        ok(client.get(f"/v1/events/{ids['event_id']}/split-rule", headers=h)),
        ok(client.get(f"/v1/performers/{ids['performer_id']}", headers=h)),
        [k["id"] for k in ok(client.get("/v1/api-keys", headers=h))["data"]],
        ok(client.get(f"/v1/orders/{ids['order_id']}", headers=h)),
        ok(client.get(f"/v1/jobs/{ids['job_id']}", headers=h))["id"],
        [entry["id"] for entry in ok(client.get("/v1/audit?limit=100", headers=h))["data"]],
        ok(client.get(f"/v1/recordings/{ids['recording_id']}", headers=h)),
        ok(client.get(f"/v1/recordings/{ids['recording_id']}/offers", headers=h)),
        ok(client.get(f"/v1/recordings/{ids['recording_id']}/split-rule", headers=h)),
        ok(client.get(f"/v1/rights-holders/{ids['holder_id']}", headers=h)),
        ok(client.get(f"/v1/events/{ids['event_id']}/co-producers", headers=h)),
    ]


@pytest.mark.parametrize(("method", "path"), sorted(STAFF_ROUTES))
def test_venue_b_cannot_reach_venue_a(
    client: TestClient, tenants: Tenants, method: str, path: str
) -> None:
    before = _snapshot(client, tenants)
    build = STAFF_ROUTES[(method, path)]
    body = build(tenants) if build else None
    url = path.format(**tenants.ids, party_type="performer", party_id=tenants.ids["performer_id"])
    response = client.request(method, url, json=body, headers=tenants.b.headers)
    if "{" in path:
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
    else:
        assert response.status_code in (200, 201, 202, 404, 422), response.text
    for own_id in (*tenants.ids.values(), tenants.a.id):
        assert own_id not in response.text
    assert _snapshot(client, tenants) == before
