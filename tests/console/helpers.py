"""Console test helpers: a signed-in admin's venue selling seats and streams, paid orders."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from tests.factories import VenueHandle, bearer, buy, make_event, make_tier, ok, put_split_rule
from tests.orders import scenarios as s
from tests.staff.helpers import Admin, admin_signed_in

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Shop:
    admin: Admin
    venue: VenueHandle
    event: dict[str, Any]
    seat_tier: str  # in the hall, 25.00
    stream_tier: str  # at home, 19.50


def hybrid_shop(client: TestClient, venue: VenueHandle, now: datetime, **event: Any) -> Any:
    """A published hybrid event with a seat tier and a stream tier: (event, seat, stream)."""
    created = make_event(client, venue, now, **event)
    stream = make_tier(client, venue, created["id"])
    seat = make_tier(client, venue, created["id"], name="Stalls", price_amount=2500,
                     capacity=100, access={"quality": "hd", "in_venue": True})  # fmt: skip
    put_split_rule(client, venue, created["id"])
    ok(client.post(f"/v1/events/{created['id']}/publish", headers=venue.headers))
    return created, seat["id"], stream["id"]


def console_shop(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    email: str = "ada@example.org", name: str = "De Nederlandse Opera",
    admin_name: str = "Ada Admin", **event: Any,
) -> Shop:  # fmt: skip
    """A venue whose first admin is signed in on `client`, with a hybrid event on sale."""
    admin = admin_signed_in(client, queue, database, settings, clock.now(), email=email,
                            name=name, admin_name=admin_name)  # fmt: skip
    venue = VenueHandle(admin.venue_id, admin.key, bearer(admin.key))
    created, seat, stream = hybrid_shop(client, venue, clock.now(), **event)
    return Shop(admin, venue, created, seat, stream)


def paid_order(client: TestClient, database: Database, clock: FixedClock, event_id: str,
               tier_id: str, quantity: int = 2, email: str = "buyer@example.org") -> dict[str, Any]:  # fmt: skip
    """Bought through the API and paid (the webhook of Stripe, processed)."""
    order: dict[str, Any] = buy(client, event_id, tier_id, quantity=quantity, email=email)
    s.deliver(client, s.succeeded(order))
    s.drain(database, clock)
    return order


def tickets(client: TestClient, shop: Shop, order_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(
        client.get(f"/v1/orders/{order_id}", headers=shop.venue.headers)
    )["tickets"]
    return found


def form_token(page_text: str) -> str:
    match = _CSRF.search(page_text)
    assert match, page_text[:500]
    return match.group(1)


def hidden(page_text: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page_text)
    assert match, (name, page_text[:2000])
    return match.group(1)
