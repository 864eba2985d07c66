"""Benchmarks of buying and of the Stripe webhook, against the production server.

order_burst: 1000 buyers at once for a 100-seat tier, through the HTTP API with
  localstripe: exactly 100 answered 201 and 900 answered 409 sold_out, nothing else;
  orders/s; p99; and our order-creation latency against a bare PaymentIntent create
  at the same localstripe (our overhead).
webhook_ingest: signed events (a quarter of them redeliveries, a tenth of the rest of
  a type we ignore) accepted per second, and the p99 time to the 2xx; afterwards
  every event is stored once and processed once by the worker (or stored as
  ignored), and every redelivery was answered as a duplicate.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from bench.load import BenchmarkFailed, LoadResult, Request, run_requests
from streamsvc.db import normalise_url
from streamsvc.payments.stripe_gateway import StripeGateway
from tests.harness import TEST_STRIPE_KEY, TEST_WEBHOOK_SECRET
from tests.stripe_helpers import event, sign, stripe_object

BUYERS, SEATS, SEQUENTIAL = 1000, 100, 40
EVENTS, DUPLICATE_SHARE, IGNORED_EVERY = 2000, 0.25, 10
PROCESSED_WITHIN_S = 120.0  # the worker has processed every stored event by then


def _shop(base_url: str, platform_key: str, capacity: int | None) -> tuple[str, str]:
    with httpx.Client(base_url=base_url, timeout=30) as api:

        def ok(response: httpx.Response) -> Any:
            if response.status_code >= 300:
                raise BenchmarkFailed(f"{response.request.url}: {response.text}")
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
    sold_out = sum(1 for a in burst.answers if a and a.status == 409
                   and json.loads(a.body).get("error", {}).get("code") == "sold_out")  # fmt: skip
    wanted = {"201": SEATS, "409": BUYERS - SEATS}
    if burst.statuses != wanted or sold_out != BUYERS - SEATS:
        raise BenchmarkFailed(f"order_burst: answers {burst.statuses} ({sold_out} x 409 sold_out); "
                              f"wanted {wanted}, every 409 sold_out")  # fmt: skip
    sold = SEATS

    # Our overhead: one buyer at a time, against one bare PaymentIntent create at a time.
    open_event, open_tier = _shop(base_url, platform_key, None)
    ours = run_requests(base_url, [_order(open_event, open_tier, i) for i in range(SEQUENTIAL)], 1)
    if ours.statuses != {"201": SEQUENTIAL}:
        raise BenchmarkFailed(f"order_burst: sequential orders answered {ours.statuses}")
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
        "sold_out_answers": sold_out,
        "orders_per_second": round(sold / burst.duration_s, 1),
        "sequential_order_p50_ms": round(ours.p50_ms, 2),
        "bare_payment_intent_p50_ms": round(bare_p50, 2),
        "overhead_ratio_to_bare_payment_intent": round(ours.p50_ms / bare_p50, 3),
    }
    return burst


def _events() -> tuple[list[tuple[str, bytes]], set[str]]:
    """(event id, payload) deliveries, redeliveries among them; the ids we ignore."""
    unique = int(EVENTS * (1 - DUPLICATE_SHARE))
    deliveries: list[tuple[str, bytes]] = []
    ignored: set[str] = set()
    for i in range(unique):
        if i % IGNORED_EVERY == 0:  # a type the inbox stores as ignored
            evt = event(
                "charge.updated", stripe_object("charge", id=f"ch_bench_{uuid.uuid4().hex}")
            )
            ignored.add(evt["id"])
        else:  # handled: processed by the worker (no order of ours: nothing else happens)
            intent = stripe_object("payment_intent", id=f"pi_bench_{uuid.uuid4().hex}",
                                   status="succeeded", metadata={})  # fmt: skip
            evt = event("payment_intent.succeeded", intent)
        deliveries.append((evt["id"], json.dumps(evt).encode()))
        if i < EVENTS - unique:
            deliveries.append(deliveries[-1])  # Stripe delivers some events twice
    return deliveries, ignored


def webhook_ingest(base_url: str, database_url: str) -> LoadResult:
    deliveries, ignored = _events()
    requests = [
        Request("POST", "/v1/stripe/webhook", payload,
                {"content-type": "application/json", "stripe-signature": sign(payload, TEST_WEBHOOK_SECRET)})
        for _, payload in deliveries
    ]  # fmt: skip
    result = run_requests(base_url, requests, 32)
    if result.statuses != {"200": len(deliveries)}:
        raise BenchmarkFailed(f"webhook_ingest: answers {result.statuses}")
    ids = sorted({event_id for event_id, _ in deliveries})
    _check_acks(deliveries, result)
    _check_inbox(database_url, ids, ignored)
    result.extra = {"events": len(deliveries), "unique_events": len(ids),
                    "ignored_events": len(ignored),
                    "events_per_second": round(result.requests_per_second, 1)}  # fmt: skip
    return result


def _check_acks(deliveries: list[tuple[str, bytes]], result: LoadResult) -> None:
    """Each event: one delivery answered as new, every other one as a duplicate."""
    fresh: dict[str, int] = {}
    duplicates: dict[str, int] = {}
    for (event_id, _), answer in zip(deliveries, result.answers, strict=True):
        ack = json.loads(answer.body) if answer else {}
        if ack.get("received") is not True or not isinstance(ack.get("duplicate"), bool):
            raise BenchmarkFailed(f"webhook_ingest: {event_id} answered {ack}")
        counts = duplicates if ack["duplicate"] else fresh
        counts[event_id] = counts.get(event_id, 0) + 1
    sent: dict[str, int] = {}
    for event_id, _ in deliveries:
        sent[event_id] = sent.get(event_id, 0) + 1
    wrong = [i for i, n in sent.items() if fresh.get(i, 0) != 1 or duplicates.get(i, 0) != n - 1]
    if wrong:
        raise BenchmarkFailed(f"webhook_ingest: {len(wrong)} events not answered new once and "
                              f"duplicate on every redelivery, e.g. {wrong[:3]}")  # fmt: skip


def _check_inbox(database_url: str, ids: list[str], ignored: set[str]) -> None:
    """Every event stored once; handled ones processed once by the worker, others ignored."""
    libpq = normalise_url(database_url).replace("postgresql+psycopg://", "postgresql://", 1)
    deadline = time.monotonic() + PROCESSED_WITHIN_S
    with psycopg.connect(libpq, autocommit=True) as conn:
        while True:
            rows = conn.execute(
                "SELECT id, status, attempts FROM stripe_events WHERE id = ANY(%s)", (ids,)
            ).fetchall()
            waiting = sum(1 for _, status, _ in rows if status == "received")
            if not waiting or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    stored = [row[0] for row in rows]
    if len(stored) != len(ids) or len(set(stored)) != len(ids):
        raise BenchmarkFailed(f"webhook_ingest: {len(ids)} events sent, {len(stored)} rows "
                              f"stored ({len(set(stored))} distinct)")  # fmt: skip
    wrong = [(i, status, attempts) for i, status, attempts in rows
             if (status, attempts) != (("ignored", 0) if i in ignored else ("processed", 1))]  # fmt: skip
    if wrong:
        raise BenchmarkFailed(f"webhook_ingest: {len(wrong)} events not processed exactly once "
                              f"(or ignored) within {PROCESSED_WITHIN_S}s, e.g. {wrong[:3]}")  # fmt: skip
