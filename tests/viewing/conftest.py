"""A paid order whose tickets can be watched, at the event's doors-open time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.viewing import keys
from streamsvc.viewing.store import ViewingStore
from tests.factories import VenueHandle, buy, make_event, make_tier, make_venue, ok, put_split_rule
from tests.orders import scenarios as s


@dataclass
class Show:
    venue: VenueHandle
    event: dict[str, Any]
    tiers: dict[str, dict[str, Any]]
    database: Database
    clock: FixedClock
    client: TestClient

    def paid_tickets(self, tier: str, quantity: int = 1) -> tuple[dict[str, Any], list[str]]:
        order = buy(self.client, self.event["id"], self.tiers[tier]["id"], quantity=quantity)
        s.deliver(self.client, s.succeeded(order))
        s.drain(self.database, self.clock)
        view = ok(self.client.get(f"/v1/orders/{order['id']}", headers=self.venue.headers))
        return order, [t["code"] for t in view["tickets"]]

    def redeem(self, code: str, device: str, country: str | None = "NL") -> Any:
        headers = {"CF-IPCountry": country} if country else {}
        return self.client.post(f"/v1/tickets/{code}/sessions", json={"device_id": device},
                                headers=headers)  # fmt: skip

    def authorize(self, token: str | None, quality: str = "hd", event_id: str | None = None) -> Any:
        uri = f"/live/{event_id or self.event['id']}/{quality}/index.m3u8"
        headers = {"X-Original-URI": uri}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.get("/v1/viewing/authorize", headers=headers)

    def heartbeat(self, token: str) -> Any:
        return self.client.post("/v1/viewing/heartbeat", headers={"X-Viewing-Token": token})

    def drain(self) -> None:
        s.drain(self.database, self.clock)


# How long authorize answers an active session from memory in production (the default);
# tests/harness.py sets 0 so that most tests ask Redis every time.
PRODUCTION_AUTHORIZE_CACHE_SECONDS: float = Settings.model_fields[
    "viewing_authorize_cache_seconds"
].default


def store_of(client: TestClient) -> ViewingStore:
    store: ViewingStore = client.app.state.resources.viewing  # type: ignore[attr-defined]
    return store


def wait_until_listening(store: ViewingStore, redis_url: str, limit: float = 10) -> None:
    """Until the API's listener hears the change channel: a probe is published until the
    listener has taken a message in (polling with a deadline, no timing assumed)."""
    probe = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + limit
    try:
        while True:
            heard = store._generation
            if store._listening:
                probe.publish(keys.CHANGES_CHANNEL, "tkt_listener_probe")
                retry = time.monotonic() + 0.25
                while time.monotonic() < retry:
                    if store._generation != heard:
                        return
                    time.sleep(0.002)
            assert time.monotonic() < deadline, "the API never joined the change channel"
            time.sleep(0.01)
    finally:
        probe.close()


def remembered(store: ViewingStore, ticket_id: str) -> bool:
    """Whether authorize would answer this ticket's sessions from memory."""
    return ticket_id in store._cache


def wait_until_heard(store: ViewingStore, ticket_id: str, limit: float = 3) -> None:
    """Until the listener has heard that `ticket_id` changed and forgot what it remembered
    of it. Only a message on the change channel makes it forget (a remembered answer
    that merely expires stays in memory), so without one this fails, however slow or
    fast the machine."""
    deadline = time.monotonic() + limit
    while remembered(store, ticket_id):
        assert time.monotonic() < deadline, (
            f"nothing on {keys.CHANGES_CHANNEL} told the API that {ticket_id} changed: "
            "its viewers would keep playing from the authorize cache"
        )
        time.sleep(0.002)


@pytest.fixture
def show(client: TestClient, clock: FixedClock, database: Database) -> Iterator[Show]:
    venue = make_venue(client)
    event = make_event(client, venue, clock.now())  # starts in 10 days, 3 hours, NL/BE only
    tiers = {
        "hd": make_tier(client, venue, event["id"], name="HD, 2 devices", capacity=100,
                        access={"quality": "hd", "max_devices": 2, "rewatch_hours": 24}),
        "sd": make_tier(client, venue, event["id"], name="SD only", price_amount=900,
                        access={"quality": "sd"}),
        "swap": make_tier(client, venue, event["id"], name="One device, newest wins",
                          access={"quality": "hd", "max_devices": 1,
                                  "on_device_limit": "drop_oldest"}),
    }  # fmt: skip
    put_split_rule(client, venue, event["id"])
    ok(client.post(f"/v1/events/{event['id']}/publish", headers=venue.headers))
    # `database` is as the worker has it: commits mirror ticket status changes into Redis.
    yield Show(venue, event, tiers, database, clock, client)
