"""Viewing benchmarks, on the same production server as the ceiling.

authorize: GET /v1/viewing/authorize with a valid token, as nginx asks it.
session_start: ticket redemptions (the device-slot Lua script and a token each).
revocation: time from a refund webhook being processed to the first 403 at authorize.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import redis

from bench.load import LoadResult, Request, percentile, run_requests
from config.settings import Settings
from streamsvc.db import Database, make_engine
from streamsvc.kit.clock import SystemClock
from streamsvc.payments import inbox
from streamsvc.viewing.revocation import RevocationMirror
from tests.harness import TEST_WEBHOOK_SECRET
from tests.stripe_helpers import event, sign, stripe_object

REDEEMS, REVOCATIONS = 500, 20


@dataclass
class Viewer:
    event_id: str
    token: str
    code: str


class Box:
    """A venue, an event with its doors open, and what it takes to pay and refund."""

    def __init__(self, base_url: str, platform_key: str, settings: Settings) -> None:
        self.api = httpx.Client(base_url=base_url, timeout=30)
        self.settings = settings
        self.redis = redis.Redis.from_url(settings.require("redis_url"))
        self.database = Database(make_engine(settings.require("database_url"), pool_size=2),
                                 hooks=[RevocationMirror(self.redis, settings)])  # fmt: skip
        venue = self._ok(self.api.post("/v1/venues", headers={"Authorization": f"Bearer {platform_key}"},
                                       json={"name": f"Bench {uuid.uuid4().hex[:6]}", "country": "NL",
                                             "currency": "EUR", "timezone": "UTC"}))  # fmt: skip
        self.staff = {"Authorization": f"Bearer {venue['api_key']['key']}"}
        starts = datetime.now(UTC) + timedelta(minutes=10)
        self.event = self._ok(self.api.post("/v1/events", headers=self.staff, json={
            "title": "Bench stream", "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=3)).isoformat(), "timezone": "UTC",
            "attendance_mode": "online", "playback": "https://cdn.example/live"}))  # fmt: skip
        self.tier = self._ok(self.api.post(f"/v1/events/{self.event['id']}/tiers", headers=self.staff, json={
            "name": "HD", "price_amount": 1000, "vat_rate_bps": 2100,
            "access": {"quality": "hd", "max_devices": 1, "on_device_limit": "drop_oldest"}}))  # fmt: skip
        self._ok(self.api.put(f"/v1/events/{self.event['id']}/split-rule", headers=self.staff, json={
            "platform_fee_bps": 0, "shares": [{"party": {"type": "venue", "id": venue["venue"]["id"]},
                                               "bps": 10000}]}))  # fmt: skip
        self._ok(self.api.post(f"/v1/events/{self.event['id']}/publish", headers=self.staff))

    @staticmethod
    def _ok(response: httpx.Response) -> Any:
        assert response.status_code < 300, response.text
        return response.json()

    def _process(self, evt: dict[str, Any]) -> None:
        """Deliver a signed event and process it as the worker's task does."""
        payload = json.dumps(evt).encode()
        self._ok(self.api.post("/v1/stripe/webhook", content=payload,
                               headers={"stripe-signature": sign(payload, TEST_WEBHOOK_SECRET)}))  # fmt: skip
        with self.database.unit_of_work() as uow:
            inbox.process(uow, evt["id"], SystemClock().now(), lambda *_: None)

    def viewer(self) -> tuple[Viewer, dict[str, Any]]:
        order = self._ok(self.api.post(f"/v1/public/events/{self.event['id']}/orders", json={
            "email": f"{uuid.uuid4().hex[:8]}@example.org",
            "items": [{"tier_id": self.tier["id"], "quantity": 1}]}))  # fmt: skip
        intent = stripe_object("payment_intent", id=order["payment"]["payment_intent_id"],
                               status="succeeded", amount_received=order["total_amount"],
                               metadata={"order_id": order["id"]})  # fmt: skip
        self._process(event("payment_intent.succeeded", intent))
        view = self._ok(self.api.get(f"/v1/orders/{order['id']}", headers=self.staff))
        code = view["tickets"][0]["code"]
        started = self._ok(self.api.post(f"/v1/tickets/{code}/sessions", json={"device_id": "tv"}))
        return Viewer(self.event["id"], started["token"], code), order

    def refund(self, order: dict[str, Any]) -> None:
        refund = stripe_object("refund", id=f"re_{uuid.uuid4().hex}", amount=order["total_amount"],
                               status="succeeded", payment_intent=order["payment"]["payment_intent_id"],
                               metadata={})  # fmt: skip
        self._process(event("refund.updated", refund))

    def authorize_headers(self, viewer: Viewer) -> dict[str, str]:
        return {"Authorization": f"Bearer {viewer.token}",
                "X-Original-URI": f"/live/{viewer.event_id}/hd/seg_00042.ts"}  # fmt: skip

    def close(self) -> None:
        self.api.close()
        self.database.dispose()
        self.redis.close()


def session_start(box: Box, base_url: str) -> LoadResult:
    viewer, _ = box.viewer()
    requests = [
        Request("POST", f"/v1/tickets/{viewer.code}/sessions",
                json.dumps({"device_id": f"device-{i}"}).encode(), {"content-type": "application/json"})
        for i in range(REDEEMS)
    ]  # fmt: skip
    result = run_requests(base_url, requests, 16)
    assert result.statuses == {"201": REDEEMS}, result.statuses
    result.extra = {"redeems": REDEEMS, "concurrency": 16}
    return result


def revocation(box: Box, base_url: str) -> dict[str, Any]:
    """Milliseconds from the refund's processing (committed) to the first 403."""
    delays: list[float] = []
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for _ in range(REVOCATIONS):
            viewer, order = box.viewer()
            headers = box.authorize_headers(viewer)
            assert client.get("/v1/viewing/authorize", headers=headers).status_code == 204
            box.refund(order)
            processed = time.perf_counter()
            while client.get("/v1/viewing/authorize", headers=headers).status_code != 403:
                pass
            delays.append((time.perf_counter() - processed) * 1000)
    delays.sort()
    return {"revocations": REVOCATIONS, "p50_ms": round(statistics.median(delays), 2),
            "p99_ms": round(percentile(delays, 0.99), 2), "max_ms": round(delays[-1], 2)}  # fmt: skip
