"""The service as it runs on several machines: two API processes behind nginx (an
upstream with both), two Celery workers on RabbitMQ, a Redis Cluster of three masters,
PostgreSQL. A buyer buys and pays through nginx (localstripe's signed webhook reaches
whichever node nginx picks), redeems on one node and is authorized by the other; after
a refund, the next authorize on either node is 403 within a second (the revocation
crosses the cluster by pub/sub to both nodes, their authorize caches on).

Skipped only where a server cannot be had: RabbitMQ not running on 127.0.0.1:5672 (with
`rabbitmqctl` to make this run's own virtual host), redis-server, or nginx.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.media import media_stack_available
from tests.e2e.topology import Topology, rabbitmq_available, rabbitmq_vhost
from tests.factories import PLATFORM, bearer
from tests.harness import TEST_WEBHOOK_SECRET, Infrastructure
from tests.redis_cluster import RedisCluster, redis_cluster  # noqa: F401 (a fixture)
from tests.stripe_helpers import pay_with_card, register_webhook, unregister_webhook
from workers.celery_app import create_celery

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.stripe, pytest.mark.timeout(300)]


@pytest.fixture
def broker_url() -> Iterator[str]:
    if not rabbitmq_available():
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672 (with rabbitmqctl)")
    with rabbitmq_vhost() as url:
        yield url


def eventually(check: Callable[[], Any], timeout: float = 30, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(every)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def topology(infra: Infrastructure, clean_state: None, redis_cluster: RedisCluster,  # noqa: F811
             broker_url: str, localstripe: str, tmp_path: Path) -> Iterator[Topology]:  # fmt: skip
    if not media_stack_available():
        pytest.skip("nginx is not installed and could not be")
    env = infra.environ(
        STREAMSVC_REDIS_URL=redis_cluster.url, STREAMSVC_REDIS_CLUSTER="true",
        STREAMSVC_CELERY_BROKER_URL=broker_url,
        # Both nodes remember authorize answers: only pub/sub can make them forget.
        STREAMSVC_VIEWING_AUTHORIZE_CACHE_SECONDS="5",
        STREAMSVC_ORDER_RATE_PER_IP="100000",
    )  # fmt: skip
    running = Topology(tmp_path, env)
    name = f"scale-{uuid.uuid4().hex[:8]}"
    hook = f"{running.base_url}/v1/stripe/webhook"
    try:
        running.wait_for_workers(create_celery(infra.settings(celery_broker_url=broker_url)))
        register_webhook(localstripe, hook, TEST_WEBHOOK_SECRET, name=name)
        yield running
    finally:
        unregister_webhook(localstripe, hook, name=name)
        running.stop()


def _shop(api: httpx.Client) -> tuple[dict[str, str], str, str]:
    venue = ok(api.post("/v1/venues", headers=PLATFORM, json={
        "name": "Opera Noord", "country": "NL", "currency": "EUR", "timezone": "UTC"}), 201)  # fmt: skip
    staff = bearer(venue["api_key"]["key"])
    starts = datetime.now(UTC) + timedelta(minutes=10)  # doors open 30 minutes before
    event = ok(api.post("/v1/events", headers=staff, json={
        "title": "Parsifal", "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=4)).isoformat(), "timezone": "UTC",
        "attendance_mode": "online", "playback": "http://cdn.example/live"}), 201)  # fmt: skip
    tier = ok(api.post(f"/v1/events/{event['id']}/tiers", headers=staff, json={
        "name": "Stream HD", "price_amount": 2500, "vat_rate_bps": 2100,
        "access": {"quality": "hd"}}), 201)  # fmt: skip
    ok(api.put(f"/v1/events/{event['id']}/split-rule", headers=staff, json={
        "platform_fee_bps": 500, "shares": [{"party": {"type": "venue", "id": venue["venue"]["id"]},
                                             "bps": 10000}]}))  # fmt: skip
    ok(api.post(f"/v1/events/{event['id']}/publish", headers=staff))
    return staff, event["id"], tier["id"]


def _authorize(node: str, path: str, token: str) -> int:
    return httpx.get(f"{node}/v1/viewing/authorize", timeout=5,
                     headers={"X-Original-URI": path, "X-Viewing-Token": token}).status_code  # fmt: skip


def test_buy_redeem_on_one_node_authorize_on_the_other_and_a_refund_reaches_both(
    topology: Topology, localstripe: str
) -> None:
    with httpx.Client(base_url=topology.base_url, timeout=30) as api:
        staff, event_id, tier_id = _shop(api)
        order = ok(api.post(f"/v1/public/events/{event_id}/orders", json={
            "email": "fan@example.org", "items": [{"tier_id": tier_id, "quantity": 1}]}), 201)  # fmt: skip
        pay_with_card(localstripe, order["payment"]["payment_intent_id"])
        paid = eventually(lambda: (
            (o := ok(api.get(f"/v1/orders/{order['id']}", headers=staff)))["tickets"] and o))  # fmt: skip
        assert paid, topology.logs()
        [ticket] = paid["tickets"]

        first, second = topology.api_urls
        started = ok(httpx.post(f"{first}/v1/tickets/{ticket['code']}/sessions",
                                json={"device_id": "living-room"}, timeout=10), 201)  # fmt: skip
        path = urlsplit(started["playback"]["url"]).path
        token = started["token"]
        assert _authorize(second, path, token) == 204  # redeemed on one node, let in by the other
        assert _authorize(first, path, token) == 204  # both now remember "yes" for 5 s

        ok(api.post(f"/v1/orders/{order['id']}/refunds", headers=staff, json={}), 202)
        revoked = eventually(lambda: {t["status"] for t in ok(api.get(
            f"/v1/orders/{order['id']}", headers=staff))["tickets"]} == {"revoked"}, every=0.02)  # fmt: skip
        assert revoked, topology.logs()
        refused_at = time.monotonic()
        both = eventually(lambda: _authorize(first, path, token) == 403
                          and _authorize(second, path, token) == 403, timeout=1, every=0.02)  # fmt: skip
        assert both, "a node still let the refunded viewer in a second later"
        assert time.monotonic() - refused_at < 1
