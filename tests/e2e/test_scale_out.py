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

import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from streamsvc.embedded import free_port, stop_process, wait_for_port
from tests.e2e.media import NGINX, media_stack_available
from tests.factories import PLATFORM, bearer
from tests.harness import TEST_WEBHOOK_SECRET, Infrastructure
from tests.redis_cluster import RedisCluster, redis_cluster  # noqa: F401 (a fixture)
from tests.stripe_helpers import pay_with_card, register_webhook, unregister_webhook
from workers.celery_app import create_celery

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.stripe, pytest.mark.timeout(300)]

RABBITMQ = ("127.0.0.1", 5672)
NGINX_CONF = """
daemon off;
master_process off;
user root;
worker_processes 1;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 256; }}
http {{
  access_log {dir}/access.log;
  client_body_temp_path {dir}/tmp; proxy_temp_path {dir}/tmp; fastcgi_temp_path {dir}/tmp;
  uwsgi_temp_path {dir}/tmp; scgi_temp_path {dir}/tmp;
  upstream streamsvc_api {{
    server 127.0.0.1:{first};
    server 127.0.0.1:{second};
    keepalive 16;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://streamsvc_api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
    }}
  }}
}}
"""


def _rabbitmq_reachable() -> bool:
    try:
        with socket.create_connection(RABBITMQ, timeout=1):
            return shutil.which("rabbitmqctl") is not None
    except OSError:
        return False


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def broker_url() -> Iterator[str]:
    """A virtual host of this run's own on the machine's RabbitMQ: no other run's worker
    takes its tasks, and nothing is left behind."""
    if not _rabbitmq_reachable():
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672 (with rabbitmqctl)")
    vhost = f"streamsvc-e2e-{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    _rabbitmqctl("delete_vhost", vhost)


class Node:
    """A child process of the service (`streamsvc api` or `streamsvc worker`)."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamsvc", *args], env=env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def stop(self) -> None:
        stop_process(self.process, timeout=20)


class Topology:
    """Two API nodes, two workers and nginx in front of the API nodes."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.nodes: list[Node] = []
        self.ports = [free_port(), free_port()]
        self.api = [f"http://127.0.0.1:{port}" for port in self.ports]
        try:
            for number, port in enumerate(self.ports, start=1):
                self.nodes.append(Node(["api", "--host", "127.0.0.1", "--port", str(port),
                                        "--workers", "1"],
                                       env, directory / f"api{number}.log"))  # fmt: skip
            for number in (1, 2):
                self.nodes.append(Node(
                    ["worker", "--concurrency", "2", "--", "--without-mingle",
                     "--without-gossip", "-n", f"worker{number}@%h"],
                    env, directory / f"worker{number}.log"))  # fmt: skip
            for port, node in zip(self.ports, self.nodes, strict=False):
                wait_for_port(port, node.process, timeout=60)
            (directory / "tmp").mkdir(exist_ok=True)
            self.nginx_port = free_port()
            conf = directory / "nginx.conf"
            conf.write_text(NGINX_CONF.format(dir=directory, port=self.nginx_port,
                                              first=self.ports[0], second=self.ports[1]))  # fmt: skip
            self.nginx = subprocess.Popen([NGINX, "-p", str(directory), "-c", str(conf)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            wait_for_port(self.nginx_port, self.nginx)
        except BaseException:
            self.stop()
            raise
        self.base_url = f"http://127.0.0.1:{self.nginx_port}"
        self.directory = directory

    def wait_for_workers(self, celery: Any, timeout: float = 60) -> None:
        """Both workers answer a ping over the broker."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(celery.control.ping(timeout=1)) == 2:
                return
        raise AssertionError(f"the workers did not start: {self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"== {n.log.name}\n{n.log.read_text()[-3000:]}" for n in self.nodes)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        if getattr(self, "nginx", None) is not None:
            stop_process(self.nginx, timeout=10)


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

        first, second = topology.api
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
