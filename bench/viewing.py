"""Viewing benchmarks, on the same production server as the ceiling.

authorize: GET /v1/viewing/authorize as nginx asks it, round-robin over thousands of
  live viewing sessions (their tokens), so the figure is not one token's cache hit.
session_start: ticket redemptions (the device-slot Lua script and a token each).
revocation: from the moment a signed refund webhook is sent until a separate polling
  client sees the first 403, through the real Celery worker.

Tickets are bought through the API and paid by signed `payment_intent.succeeded`
webhooks that the bench's worker processes; nothing here writes to the database.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.load import BenchmarkFailed, LoadResult, Request, percentile, run_requests
from tests.harness import TEST_WEBHOOK_SECRET
from tests.stripe_helpers import event, sign, stripe_object

# session_start: WARM_UP redemptions untimed first (each API process opens its pooled
# connections then, as a server that has run a while has them), then REDEEMS timed.
REDEEMS, WARM_UP, REVOCATIONS = 2000, 200, 20
# authorize: SESSIONS tokens over SESSIONS / DEVICES tickets, ORDER_TICKETS an order
# (the production default `order_max_quantity` is 10).
SESSIONS, DEVICES, ORDER_TICKETS = 2000, 5, 10
PAID_WITHIN_S = 60.0  # the worker has processed every payment webhook by then
REVOKED_WITHIN_S = 10.0  # a revocation not seen by then fails the benchmark


@dataclass
class Viewer:
    event_id: str
    token: str
    code: str


class Box:
    """A venue, an event with its doors open, and what it takes to pay and refund."""

    def __init__(self, base_url: str, platform_key: str) -> None:
        self.api = httpx.Client(base_url=base_url, timeout=30)
        venue = self._ok(self.api.post("/v1/venues", headers={"Authorization": f"Bearer {platform_key}"},
                                       json={"name": f"Bench {uuid.uuid4().hex[:6]}", "country": "NL",
                                             "currency": "EUR", "timezone": "UTC"}))  # fmt: skip
        self.staff = {"Authorization": f"Bearer {venue['api_key']['key']}"}
        starts = datetime.now(UTC) + timedelta(minutes=10)
        self.event = self._ok(self.api.post("/v1/events", headers=self.staff, json={
            "title": "Bench stream", "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=3)).isoformat(), "timezone": "UTC",
            "attendance_mode": "online", "playback": "https://cdn.example/live"}))  # fmt: skip
        self.tier = self._tier("HD", {"max_devices": 1, "on_device_limit": "drop_oldest"})
        # authorize's crowd: several devices a ticket, none replacing another
        self.crowd = self._tier("Crowd", {"max_devices": DEVICES, "on_device_limit": "refuse"})
        self._ok(self.api.put(f"/v1/events/{self.event['id']}/split-rule", headers=self.staff, json={
            "platform_fee_bps": 0, "shares": [{"party": {"type": "venue", "id": venue["venue"]["id"]},
                                               "bps": 10000}]}))  # fmt: skip
        self._ok(self.api.post(f"/v1/events/{self.event['id']}/publish", headers=self.staff))

    def _tier(self, name: str, access: dict[str, Any]) -> dict[str, Any]:
        tier: dict[str, Any] = self._ok(self.api.post(
            f"/v1/events/{self.event['id']}/tiers", headers=self.staff,
            json={"name": name, "price_amount": 1000, "vat_rate_bps": 2100,
                  "access": {"quality": "hd", **access}}))  # fmt: skip
        return tier

    @staticmethod
    def _ok(response: httpx.Response) -> Any:
        if response.status_code >= 300:
            raise BenchmarkFailed(f"{response.request.url}: {response.status_code} {response.text}")
        return response.json()

    def deliver(self, evt: dict[str, Any]) -> dict[str, Any]:
        """POST a signed event to the webhook, as Stripe does; the worker processes it."""
        payload = json.dumps(evt).encode()
        ack: dict[str, Any] = self._ok(self.api.post(
            "/v1/stripe/webhook", content=payload,
            headers={"content-type": "application/json",
                     "stripe-signature": sign(payload, TEST_WEBHOOK_SECRET)}))  # fmt: skip
        return ack

    def buy(self, tier: dict[str, Any], quantity: int) -> dict[str, Any]:
        order: dict[str, Any] = self._ok(self.api.post(
            f"/v1/public/events/{self.event['id']}/orders",
            json={"email": f"{uuid.uuid4().hex[:8]}@example.org",
                  "items": [{"tier_id": tier["id"], "quantity": quantity}]}))  # fmt: skip
        intent = stripe_object("payment_intent", id=order["payment"]["payment_intent_id"],
                               status="succeeded", amount=order["total_amount"],
                               amount_received=order["total_amount"], currency="eur",
                               metadata={"order_id": order["id"]})  # fmt: skip
        self.deliver(event("payment_intent.succeeded", intent))
        return order

    def paid(self, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each order's view once the worker has made it paid (tickets issued)."""
        deadline = time.monotonic() + PAID_WITHIN_S
        views: dict[str, dict[str, Any]] = {}
        while len(views) < len(orders):
            for order in orders:
                if order["id"] not in views:
                    view = self._ok(self.api.get(f"/v1/orders/{order['id']}", headers=self.staff))
                    if view["status"] == "paid" and view["tickets"]:
                        views[order["id"]] = view
            if time.monotonic() > deadline:
                raise BenchmarkFailed(f"the worker paid {len(views)} of {len(orders)} orders "
                                      f"within {PAID_WITHIN_S}s")  # fmt: skip
            time.sleep(0.05)
        return [views[order["id"]] for order in orders]

    def viewer(self) -> tuple[Viewer, dict[str, Any]]:
        order = self.buy(self.tier, 1)
        code = self.paid([order])[0]["tickets"][0]["code"]
        started = self._ok(self.api.post(f"/v1/tickets/{code}/sessions", json={"device_id": "tv"}))
        return Viewer(self.event["id"], started["token"], code), order

    def crowd_headers(self, base_url: str, sessions: int = SESSIONS) -> list[dict[str, str]]:
        """Authorize headers of `sessions` distinct live sessions, DEVICES a ticket."""
        tickets = -(-sessions // DEVICES)
        orders = [self.buy(self.crowd, min(ORDER_TICKETS, tickets - i))
                  for i in range(0, tickets, ORDER_TICKETS)]  # fmt: skip
        codes = [t["code"] for view in self.paid(orders) for t in view["tickets"]]
        redeem = [
            Request("POST", f"/v1/tickets/{code}/sessions",
                    json.dumps({"device_id": f"device-{d}"}).encode(),
                    {"content-type": "application/json"})
            for code in codes for d in range(DEVICES)
        ][:sessions]  # fmt: skip
        result = run_requests(base_url, redeem, 16)
        if result.statuses != {"201": sessions}:
            raise BenchmarkFailed(f"redeeming {sessions} sessions: {result.statuses}")
        tokens = {json.loads(answer.body)["token"] for answer in result.answers if answer}
        if len(tokens) != sessions:
            raise BenchmarkFailed(f"{sessions} redemptions gave {len(tokens)} distinct tokens")
        return [self.authorize_headers(Viewer(self.event["id"], token, "")) for token in tokens]

    def refund(self, order: dict[str, Any]) -> dict[str, Any]:
        refund = stripe_object("refund", id=f"re_{uuid.uuid4().hex}", amount=order["total_amount"],
                               status="succeeded", payment_intent=order["payment"]["payment_intent_id"],
                               metadata={})  # fmt: skip
        return event("refund.updated", refund)

    def authorize_headers(self, viewer: Viewer) -> dict[str, str]:
        return {"Authorization": f"Bearer {viewer.token}",
                "X-Original-URI": f"/live/{viewer.event_id}/hd/seg_00042.ts"}  # fmt: skip

    def close(self) -> None:
        self.api.close()


def session_start(box: Box, base_url: str) -> LoadResult:
    viewer, _ = box.viewer()

    def redeems(first: int, count: int) -> list[Request]:
        return [
            Request("POST", f"/v1/tickets/{viewer.code}/sessions",
                    json.dumps({"device_id": f"device-{i}"}).encode(), {"content-type": "application/json"})
            for i in range(first, first + count)
        ]  # fmt: skip

    warm = run_requests(base_url, redeems(0, WARM_UP), 16)
    if warm.statuses != {"201": WARM_UP}:
        raise BenchmarkFailed(f"session_start warm-up: {warm.statuses}, wanted {WARM_UP} x 201")
    result = run_requests(base_url, redeems(WARM_UP, REDEEMS), 16)
    if result.statuses != {"201": REDEEMS}:
        raise BenchmarkFailed(f"session_start: {result.statuses}, wanted {REDEEMS} x 201")
    result.extra = {"redeems": REDEEMS, "warm_up": WARM_UP, "concurrency": 16}
    return result


class Poller(threading.Thread):
    """Another client that only asks authorize, in a loop, and notes the first 403."""

    def __init__(
        self, base_url: str, headers: dict[str, str], path: str = "/v1/viewing/authorize"
    ) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=base_url, timeout=5)
        self.headers = headers
        # authorize itself, or a segment behind nginx's auth_request (whose 403 is
        # nginx's page: the reason stays with authorize)
        self.path = path
        self.stop = threading.Event()
        self.allowed = threading.Event()  # it has seen a 204: it is polling
        self.refused_at: float | None = None
        self.problem: str | None = None
        self.polls = 0

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                answer = self.client.get(self.path, headers=self.headers)
                self.polls += 1
                if answer.is_success:
                    self.allowed.set()
                    continue
                if answer.status_code == 403 and self._revoked(answer):
                    self.refused_at = time.perf_counter()
                else:
                    self.problem = f"{answer.status_code} {answer.text}"
                return
        except httpx.HTTPError as exc:
            self.problem = repr(exc)
        finally:
            self.allowed.set()
            self.client.close()

    def _revoked(self, answer: httpx.Response) -> bool:
        if not answer.headers.get("content-type", "").startswith("application/json"):
            return True  # nginx's own 403 page
        return bool(answer.json()["error"]["code"] == "revoked")


def timed_revocation(
    box: Box, poller_for: Callable[[Viewer], Poller], what: str
) -> tuple[float, Poller]:
    """One viewer bought, polled until refused, refunded by webhook: milliseconds from
    sending the refund to the poller's first refusal (refused beyond REVOKED_WITHIN_S)."""
    viewer, order = box.viewer()
    poller = poller_for(viewer)
    poller.start()
    poller.allowed.wait(30)
    refund = box.refund(order)
    sent = time.perf_counter()
    if poller.problem is None:
        box.deliver(refund)
        poller.join(timeout=REVOKED_WITHIN_S)
    poller.stop.set()
    poller.join()
    if poller.problem is not None:
        raise BenchmarkFailed(f"{what}: the poller got {poller.problem}")
    if poller.refused_at is None or poller.refused_at - sent > REVOKED_WITHIN_S:
        raise BenchmarkFailed(f"{what}: no 403 within {REVOKED_WITHIN_S}s of the refund "
                              f"webhook ({poller.polls} polls)")  # fmt: skip
    return (poller.refused_at - sent) * 1000, poller


def revocation(box: Box, base_url: str, count: int = REVOCATIONS) -> dict[str, Any]:
    """Milliseconds from sending the refund webhook to the poller's first 403."""
    delays: list[float] = []
    polls: list[int] = []
    for n in range(count):
        delay, poller = timed_revocation(box, lambda viewer: Poller(
            base_url, box.authorize_headers(viewer)), f"revocation {n + 1}")  # fmt: skip
        delays.append(delay)
        polls.append(poller.polls)
    delays.sort()
    return {"revocations": count, "p50_ms": round(statistics.median(delays), 2),
            "p99_ms": round(percentile(delays, 0.99), 2), "max_ms": round(delays[-1], 2),
            "min_ms": round(delays[0], 2), "polls_per_revocation": round(statistics.mean(polls))}  # fmt: skip
