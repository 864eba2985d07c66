"""Benchmarks of buying and of the Stripe webhook, against the production server.

order_burst: 1000 buyers at once for a 100-seat tier, through the HTTP API with
  localstripe: exactly 100 sold; orders/s; p99; and our order-creation latency
  against a bare PaymentIntent create at the same localstripe (our overhead).
webhook_ingest: signed events (a quarter of them duplicates) accepted per second,
  and the p99 time to the 2xx.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.load import LoadResult, Request, run_requests
from streamsvc.payments.stripe_gateway import StripeGateway
from tests.harness import TEST_STRIPE_KEY, TEST_WEBHOOK_SECRET
from tests.stripe_helpers import event, sign, stripe_object

BUYERS, SEATS, SEQUENTIAL = 1000, 100, 40
EVENTS, DUPLICATE_SHARE = 2000, 0.25


def _shop(base_url: str, platform_key: str, capacity: int | None) -> tuple[str, str]:
    with httpx.Client(base_url=base_url, timeout=30) as api:

        def ok(response: httpx.Response) -> Any:
            assert response.status_code < 300, response.text
            return response.json()

        venue = ok(api.post("/v1/venues", headers={"Authorization": f"Bearer {platform_key}"},
                            json={"name": f"Bench {uuid.uuid4().hex[:6]}", "country": "NL",
                                  "currency": "EUR", "timezone": "Europe/Amsterdam"}))  # fmt: skip
        h = {"Authorization": f"Bearer {venue['api_key']['key']}"}
        starts = datetime.now(UTC) + timedelta(days=3)
        evt = ok(api.post("/v1/events", headers=h, json={
            "title": "Bench night", "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(), "timezone": "UTC",
            "attendance_mode": "online", "playback": "https://origin.example.org/live"}))  # fmt: skip
        tier = ok(api.post(f"/v1/events/{evt['id']}/tiers", headers=h, json={
            "name": "Seat", "price_amount": 1500, "capacity": capacity, "vat_rate_bps": 2100,
            "access": {"quality": "hd"}}))  # fmt: skip
        ok(api.put(f"/v1/events/{evt['id']}/split-rule", headers=h, json={
            "platform_fee_bps": 0, "shares": [{"party": {"type": "venue", "id": venue["venue"]["id"]},
                                               "bps": 10000}]}))  # fmt: skip
        ok(api.post(f"/v1/events/{evt['id']}/publish", headers=h))
        return evt["id"], tier["id"]


def _order(event_id: str, tier_id: str, i: int) -> Request:
    body = {"email": f"bench{i}@example.org", "items": [{"tier_id": tier_id, "quantity": 1}]}
    return Request("POST", f"/v1/public/events/{event_id}/orders", json.dumps(body).encode(),
                   {"content-type": "application/json"})  # fmt: skip


def order_burst(base_url: str, platform_key: str, stripe_api_base: str) -> LoadResult:
    event_id, tier_id = _shop(base_url, platform_key, SEATS)
    burst = run_requests(base_url, [_order(event_id, tier_id, i) for i in range(BUYERS)], BUYERS)
    sold = burst.statuses.get("201", 0)
    assert sold == SEATS, f"sold {sold} of {SEATS}: {burst.statuses}"

    # Our overhead: one buyer at a time, against one bare PaymentIntent create at a time.
    open_event, open_tier = _shop(base_url, platform_key, None)
    ours = run_requests(base_url, [_order(open_event, open_tier, i) for i in range(SEQUENTIAL)], 1)
    gateway = StripeGateway(TEST_STRIPE_KEY, stripe_api_base)
    bare: list[float] = []
    for i in range(SEQUENTIAL):
        started = time.perf_counter()
        gateway.create_payment_intent(amount=1500, currency="eur", metadata={"n": str(i)},
                                      idempotency_key=f"bench:{uuid.uuid4()}")  # fmt: skip
        bare.append((time.perf_counter() - started) * 1000)
    gateway.close()
    bare_p50 = statistics.median(bare)
    burst.extra = {
        "buyers": BUYERS,
        "seats": SEATS,
        "sold": sold,
        "orders_per_second": round(sold / burst.duration_s, 1),
        "sequential_order_p50_ms": round(ours.p50_ms, 2),
        "bare_payment_intent_p50_ms": round(bare_p50, 2),
        "overhead_ratio_to_bare_payment_intent": round(ours.p50_ms / bare_p50, 3),
    }
    return burst


def webhook_ingest(base_url: str) -> LoadResult:
    unique = int(EVENTS * (1 - DUPLICATE_SHARE))
    events = []
    for i in range(unique):
        intent = stripe_object("payment_intent", id=f"pi_bench_{uuid.uuid4().hex}", status="succeeded",
                               metadata={})  # fmt: skip
        events.append(json.dumps(event("payment_intent.succeeded", intent)).encode())
        if i < EVENTS - unique:
            events.append(events[-1])  # Stripe delivers some events twice
    requests = [
        Request("POST", "/v1/stripe/webhook", payload,
                {"content-type": "application/json", "stripe-signature": sign(payload, TEST_WEBHOOK_SECRET)})
        for payload in events
    ]  # fmt: skip
    result = run_requests(base_url, requests, 32)
    assert result.statuses == {"200": len(events)}, result.statuses
    result.extra = {"events": len(events), "unique_events": unique,
                    "events_per_second": round(result.requests_per_second, 1)}  # fmt: skip
    return result
