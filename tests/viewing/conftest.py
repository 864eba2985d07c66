"""A paid order whose tickets can be watched, at the event's doors-open time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database, make_engine
from streamsvc.kit.clock import FixedClock
from streamsvc.viewing.revocation import RevocationMirror
from tests.conftest import RecordingQueue
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
        s.drain(self.database, self.clock, RecordingQueue().enqueue)
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
        s.drain(self.database, self.clock, RecordingQueue().enqueue)


@pytest.fixture
def show(client: TestClient, clock: FixedClock, settings: Settings) -> Iterator[Show]:
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
    # As the worker has it: commits mirror ticket status changes into Redis.
    mirror = redis.Redis.from_url(settings.require("redis_url"))
    database = Database(make_engine(settings.require("database_url"), pool_size=2),
                        hooks=[RevocationMirror(mirror, settings)])  # fmt: skip
    show = Show(venue, event, tiers, database, clock, client)
    yield show
    database.dispose()
    mirror.close()
