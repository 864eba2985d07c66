"""`python -m bench soak`: mixed traffic at a fixed rate against the scaled-out topology
(tests/e2e/topology.py: two API nodes behind nginx, two workers and beat on RabbitMQ,
a three-master Redis Cluster, PostgreSQL), with faults, then checks nothing was lost.

Traffic, through nginx, at `rate` operations a second for `duration` seconds, each
operation picked by weight: browsing (the event page, the catalogue), buying (an
order, paid by card at localstripe, whose signed webhook comes back through nginx),
redeeming a paid ticket, heartbeats and authorizes of the sessions so far (as a
player and nginx's auth_request would), refunds. Faults, when asked: a worker killed
with SIGKILL at 30 % of the run and started again, an API node stopped (SIGTERM) at
50 % and started again 3 s later, every broker connection cut at 70 %.

Afterwards, once the queues are drained: every paid order has its ticket, every
refunded order's ticket is revoked and refused by authorize, every Stripe event was
applied exactly once (the inbox holds each event once, none left unprocessed), and a
reconciliation of the event finds nothing: the ledger ties out with Stripe. Errors
(any answer outside 2xx, but a 409 of a race the product refuses on purpose, or a
socket error) must be 0; the run reports per operation p50/p99, and over time the
RSS of every process, Redis's memory per node and PostgreSQL's connections.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

from bench.ledger import _libpq
from bench.load import BenchmarkFailed
from bench.viewing import Box
from streamsvc.migrate import upgrade
from tests.e2e.topology import Topology, rabbitmq_available, rabbitmq_vhost, rabbitmqctl
from tests.harness import TEST_WEBHOOK_SECRET, Infrastructure
from tests.redis_cluster import start_cluster
from tests.stripe_helpers import get_object, pay_with_card, register_webhook, unregister_webhook
from workers.celery_app import create_celery

WEIGHTS = {"browse": 20, "buy": 8, "redeem": 8, "heartbeat": 30, "authorize": 30, "refund": 4}
SAMPLE_SECONDS = 5.0


@dataclass
class World:
    box: Box
    paid: list[dict[str, Any]] = field(default_factory=list)  # orders paid, not redeemed
    sessions: list[dict[str, Any]] = field(default_factory=list)  # {session, token, path, order}
    refunded: set[str] = field(default_factory=set)
    orders: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def error_counts(self) -> dict[str, str]:
        return {name: f"{len(found)}: {found[:2]}" for name, found in self.errors.items() if found}


def _timed(world: World, name: str, call: Any, ok: tuple[int, ...] = (200, 201, 202, 204)) -> Any:
    started = time.monotonic()
    try:
        answer = call()
    except httpx.HTTPError as exc:
        with world.lock:
            world.errors[name].append(repr(exc)[:200])
        return None
    with world.lock:
        world.latencies[name].append((time.monotonic() - started) * 1000)
        if answer.status_code not in ok:
            world.errors[name].append(f"{answer.status_code} {answer.text[:200]}")
            return None
    return answer


def _browse(world: World, api: httpx.Client, localstripe: str) -> None:
    path = random.choice(["/", f"/events/{world.box.event['id']}"])
    _timed(world, "browse", lambda: api.get(path, headers={"Accept": "text/html"}))


def _buy(world: World, api: httpx.Client, localstripe: str) -> None:
    box = world.box
    body = {"email": f"soak-{uuid.uuid4().hex[:10]}@example.org",
            "items": [{"tier_id": box.tier["id"], "quantity": 1}]}  # fmt: skip
    answer = _timed(world, "buy", lambda: api.post(
        f"/v1/public/events/{box.event['id']}/orders", json=body))  # fmt: skip
    if answer is None:
        return
    order = answer.json()
    with world.lock:
        world.orders.append(order["id"])
    try:
        pay_with_card(localstripe, order["payment"]["payment_intent_id"])
    except Exception as exc:  # localstripe refused the card: a figure lost
        with world.lock:
            world.errors["pay"].append(repr(exc)[:200])
        return
    with world.lock:
        world.paid.append(order)


def _viewer(world: World, api: httpx.Client, name: str) -> None:
    """A heartbeat of a player, or an authorize as nginx's auth_request asks it."""
    # A player whose token expired unrenewed has stopped watching (a long soak has more
    # sessions than the rate renews): it asks nothing more. One past its renewal time
    # renews first, as the player does at `refresh_after`.
    now = time.time()
    with world.lock:
        live = [s for s in world.sessions
                if s["order"] not in world.refunded and s["expires_at"] > now + 2]  # fmt: skip
    if not live:
        return
    chosen = random.choice(live)
    if now >= chosen["renew_at"]:
        name = "heartbeat"
    # A refund racing this request may refuse it: 403 is then the right answer.
    racing = (200, 204, 403)
    if name == "heartbeat":
        answer = _timed(world, "heartbeat", lambda: api.post(
            "/v1/viewing/heartbeat",
            headers={"Authorization": f"Bearer {chosen['token']}"}), racing)  # fmt: skip
        if answer is not None and answer.status_code == 200:
            chosen.update(_token_of(answer.json()))  # the player's renewed token
    else:
        answer = _timed(world, "authorize", lambda: api.get("/v1/viewing/authorize", headers={
            "X-Original-URI": chosen["path"], "X-Viewing-Token": chosen["token"]}), racing)  # fmt: skip
    if answer is not None and answer.status_code == 403:
        with world.lock:
            if chosen["order"] not in world.refunded:
                world.errors[name].append(f"403 for a ticket nobody refunded: {answer.text}")


def _refund(world: World, api: httpx.Client, localstripe: str) -> None:
    with world.lock:
        candidates = [s["order"] for s in world.sessions if s["order"] not in world.refunded]
        order_id = random.choice(candidates) if candidates else None
        if order_id is not None:
            world.refunded.add(order_id)
    if order_id is not None:
        _timed(world, "refund", lambda: api.post(f"/v1/orders/{order_id}/refunds",
                                                 headers=world.box.staff, json={}))  # fmt: skip


def _operation(world: World, api: httpx.Client, localstripe: str, name: str) -> None:
    if name in ("heartbeat", "authorize"):
        _viewer(world, api, name)
    elif name == "redeem":
        _redeem(world, api)
    else:
        {"browse": _browse, "buy": _buy, "refund": _refund}[name](world, api, localstripe)


def _redeem(world: World, api: httpx.Client) -> None:
    with world.lock:
        order = world.paid.pop(0) if world.paid else None
    if order is None:
        return
    view = api.get(f"/v1/orders/{order['id']}", headers=world.box.staff).json()
    if not view.get("tickets"):  # its webhook has not been applied yet: later
        with world.lock:
            world.paid.append(order)
        return
    code = view["tickets"][0]["code"]
    answer = _timed(world, "redeem", lambda: api.post(f"/v1/tickets/{code}/sessions",
                                                      json={"device_id": "tv"}))  # fmt: skip
    if answer is not None:
        started = answer.json()
        path = httpx.URL(started["playback"]["url"]).path
        with world.lock:
            world.sessions.append({"session": started["session_id"], "path": path,
                                   "order": order["id"], **_token_of(started)})  # fmt: skip


def _token_of(answer: dict[str, Any]) -> dict[str, Any]:
    """A session's token and when the player renews it and when it expires (epoch s)."""
    return {"token": answer["token"],
            "renew_at": datetime.fromisoformat(answer["refresh_after"]).timestamp(),
            "expires_at": datetime.fromisoformat(answer["expires_at"]).timestamp()}  # fmt: skip


def _sampler(topology: Topology, cluster_urls: list[str], database_url: str,
             stop: threading.Event, samples: list[dict[str, Any]]) -> None:  # fmt: skip
    started = time.monotonic()
    while not stop.wait(SAMPLE_SECONDS if samples else 0):
        rss = {node.log.stem: _rss_mib(node.process.pid) for node in topology.nodes}
        memory = {}
        for url in cluster_urls:
            with redis.Redis.from_url(url) as node:
                memory[url.rsplit(":", 1)[1]] = round(
                    int(node.info("memory")["used_memory"]) / 2**20, 2)  # fmt: skip
        with psycopg.connect(database_url) as conn:
            connections = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            ).fetchone()
        samples.append({"t": round(time.monotonic() - started, 1), "rss_mib": rss,
                        "redis_used_mib": memory,
                        "pg_connections": connections[0] if connections else None})  # fmt: skip


def _rss_mib(pid: int) -> float | None:
    """The resident memory of a process and all its children (a worker's pool, say),
    from /proc; None when it is down (during a fault)."""
    total, pending = 0, [pid]
    try:
        while pending:
            current = pending.pop()
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines()
                          if line.startswith("VmRSS:"))  # fmt: skip
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
    except (OSError, StopIteration):
        return None if total == 0 else round(total / 1024, 1)
    return round(total / 1024, 1)


def _faults(topology: Topology, duration: float, stop: threading.Event, log: list[str]) -> None:
    """The faults, each at its moment of the run, logged with when it happened."""
    started = time.monotonic()

    def at(fraction: float) -> bool:
        return not stop.wait(max(0.0, started + fraction * duration - time.monotonic()))

    if at(0.3):
        topology.workers[0].kill()
        log.append(f"{time.monotonic() - started:.1f}s worker1 SIGKILL")
        topology.workers[0].restart()
    if at(0.5):
        log.append(f"{time.monotonic() - started:.1f}s api2 stopped")
        topology.restart_api(1, down_seconds=3)
        log.append(f"{time.monotonic() - started:.1f}s api2 back")
    if at(0.7):
        rabbitmqctl("close_all_connections", "soak: the broker connection is cut")
        log.append(f"{time.monotonic() - started:.1f}s broker connections cut")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1) if ordered else 0.0


def _drained(world: World, api: httpx.Client, timeout: float = 180) -> dict[str, Any]:
    """Wait until every order is settled as Stripe said; what each order holds then."""
    deadline = time.monotonic() + timeout
    while True:
        views = {order_id: api.get(f"/v1/orders/{order_id}", headers=world.box.staff).json()
                 for order_id in world.orders}  # fmt: skip
        pending = [o for o, v in views.items() if v["status"] == "pending"
                   or (o in world.refunded and v["status"] != "refunded")]  # fmt: skip
        if not pending or time.monotonic() > deadline:
            return {"views": views, "unsettled": pending}
        time.sleep(1)


def _checks(
    world: World, api: httpx.Client, database_url: str, topology: Topology, stripe_api: str
) -> dict[str, Any]:
    settled = _drained(world, api)
    views = settled["views"]
    # A pending order whose buyer never paid (the soak's card payment at localstripe
    # timed out before Stripe took it) is settled as Stripe says: pending. Only one
    # Stripe holds as paid or cancelled, and we do not, is lost.
    unpaid = [o for o in settled["unsettled"] if o not in world.refunded
              and _stripe_status(stripe_api, views[o].get("payment_intent_id")) in _UNPAID]  # fmt: skip
    settled["unsettled"] = [o for o in settled["unsettled"] if o not in unpaid]
    no_ticket = [o for o, v in views.items() if v["status"] == "paid"
                 and [t["status"] for t in v["tickets"]] != ["valid"]]  # fmt: skip
    not_revoked = [o for o in world.refunded
                   if {t["status"] for t in views[o]["tickets"]} != {"revoked"}]  # fmt: skip
    # Let in: a 2xx. A refused viewer gets 403 (revoked), or 401 once the token it last
    # renewed has expired (a long soak outlives the early sessions' tokens).
    let_in = [s["order"] for s in world.sessions if s["order"] in world.refunded
              and api.get("/v1/viewing/authorize", headers={
                  "X-Original-URI": s["path"], "X-Viewing-Token": s["token"]}).is_success]  # fmt: skip
    with psycopg.connect(database_url) as conn:
        inbox: dict[str, int] = dict(conn.execute(
            "SELECT status, count(*) FROM stripe_events GROUP BY status").fetchall())  # fmt: skip
        twice = conn.execute("SELECT count(*) FROM (SELECT id FROM stripe_events GROUP BY id "
                             "HAVING count(*) > 1) x").fetchone()  # fmt: skip
    job = api.post("/v1/finance/reconciliations", headers=world.box.staff,
                   json={"event_id": world.box.event["id"]}).json()  # fmt: skip
    deadline = time.monotonic() + 180
    while job.get("status") not in ("succeeded", "failed") and time.monotonic() < deadline:
        time.sleep(1)
        job = api.get(f"/v1/jobs/{job['id']}", headers=world.box.staff).json()
    checks = {
        "orders": len(views),
        "paid": sum(v["status"] == "paid" for v in views.values()),
        "refunded": len(world.refunded),
        "unsettled": settled["unsettled"],
        "never_paid_at_stripe": len(unpaid),
        "paid_without_their_ticket": no_ticket,
        "refunded_not_revoked": not_revoked,
        "refunded_still_let_in": let_in,
        "inbox": inbox,
        "events_stored_twice": twice[0] if twice else None,
        "reconciliation": {k: job.get("result", {}).get(k) for k in ("posted", "findings")},
        "reconciliation_status": job.get("status"),
    }
    failed = (settled["unsettled"] or no_ticket or not_revoked or let_in
              or inbox.get("received") or inbox.get("failed") or checks["events_stored_twice"]
              or job.get("status") != "succeeded" or job["result"].get("findings"))  # fmt: skip
    if failed:
        checks["unsettled_explained"] = _explain(settled["unsettled"][:5], views, world,
                                                 database_url, stripe_api)  # fmt: skip
        raise BenchmarkFailed(f"soak: something was lost or applied wrongly: {_short(checks)}\n"
                              f"errors during the run: {world.error_counts()}\n"
                              f"{topology.logs()}")  # fmt: skip
    return checks


def _short(checks: dict[str, Any]) -> dict[str, Any]:
    """Lists of order ids as their length and first three: a failure stays readable."""
    return {k: (f"{len(v)}: {v[:3]}" if isinstance(v, list) else v) for k, v in checks.items()}


# A PaymentIntent in one of these has taken no money: its order is rightly pending.
_UNPAID = ("requires_payment_method", "requires_confirmation", "requires_action")


def _stripe_status(stripe_api: str, intent: str | None) -> str | None:
    """The PaymentIntent's status at Stripe (localstripe); "unknown" unanswered."""
    if not intent:
        return None
    try:
        status: str = get_object(stripe_api, f"/v1/payment_intents/{intent}")["status"]
    except Exception:  # the order then counts as unsettled, and is explained
        return "unknown"
    return status


def _explain(order_ids: list[str], views: dict[str, Any], world: World,
             database_url: str, stripe_api: str) -> list[dict[str, Any]]:  # fmt: skip
    """For an order not settled: what we hold of it, and whether its events reached us."""
    explained = []
    with psycopg.connect(database_url) as conn:
        for order_id in order_ids:
            view = views[order_id]
            intent = view.get("payment_intent_id")
            stored = conn.execute(
                "SELECT type, status FROM stripe_events WHERE payload::text LIKE %s",
                (f"%{intent}%",),
            ).fetchall() if intent else []  # fmt: skip
            explained.append({"order": order_id, "status": view["status"],
                              "refunded_by_soak": order_id in world.refunded,
                              "intent": intent, "at_stripe": _stripe_status(stripe_api, intent),
                              "events": [list(row) for row in stored]})  # fmt: skip
    return explained


def run(infra: Infrastructure, secrets: dict[str, str], *, duration: float, rate: float,
        faults: bool = True) -> dict[str, Any]:  # fmt: skip
    if not rabbitmq_available():
        raise BenchmarkFailed("soak needs RabbitMQ on 127.0.0.1:5672 (with rabbitmqctl)")
    upgrade(infra.database_url)
    libpq = _libpq(infra.database_url)
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as scratch, rabbitmq_vhost() as broker:
        directory = Path(scratch)
        cluster = start_cluster(directory / "redis")
        env = infra.environ(
            STREAMSVC_ENV="production", STREAMSVC_DATA_DIR=str(directory),
            STREAMSVC_REDIS_URL=cluster.url, STREAMSVC_REDIS_CLUSTER="true",
            STREAMSVC_CELERY_BROKER_URL=broker, **secrets,
        )  # fmt: skip
        topology: Topology | None = None
        try:
            topology = Topology(directory, env, beat=True)
            topology.wait_for_workers(create_celery(infra.settings(celery_broker_url=broker)))
            hook = f"{topology.base_url}/v1/stripe/webhook"
            name = f"soak-{uuid.uuid4().hex[:8]}"
            register_webhook(infra.stripe_api_base, hook, TEST_WEBHOOK_SECRET, name=name)
            try:
                return _soak(topology, cluster_urls=cluster.node_urls(), infra=infra, libpq=libpq,
                             secrets=secrets, duration=duration, rate=rate, faults=faults)  # fmt: skip
            finally:
                unregister_webhook(infra.stripe_api_base, hook, name=name)
        finally:
            if topology is not None:
                topology.stop()
            cluster.stop()


def _soak(topology: Topology, *, cluster_urls: list[str], infra: Infrastructure, libpq: str,
          secrets: dict[str, str], duration: float, rate: float, faults: bool) -> dict[str, Any]:  # fmt: skip
    world = World(Box(topology.base_url, secrets["STREAMSVC_PLATFORM_KEY"]))
    stop, samples, fault_log = threading.Event(), [], []  # type: ignore[var-annotated]
    threads = [threading.Thread(target=_sampler, daemon=True,
                                args=(topology, cluster_urls, libpq, stop, samples))]  # fmt: skip
    if faults:
        threads.append(threading.Thread(target=_faults, daemon=True,
                                        args=(topology, duration, stop, fault_log)))  # fmt: skip
    for thread in threads:
        thread.start()
    names, weights = list(WEIGHTS), list(WEIGHTS.values())
    rng = random.Random(7)
    with httpx.Client(base_url=topology.base_url, timeout=30,
                      limits=httpx.Limits(max_connections=64)) as api, \
            ThreadPoolExecutor(max_workers=48) as pool:  # fmt: skip
        started = time.monotonic()
        sent = 0
        while (now := time.monotonic()) < started + duration:
            due = int((now - started) * rate)
            for _ in range(due - sent):
                pool.submit(_operation, world, api, infra.stripe_api_base,
                            rng.choices(names, weights)[0])  # fmt: skip
            sent = max(sent, due)
            time.sleep(0.01)
        pool.shutdown(wait=True)
        elapsed = time.monotonic() - started
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        checks = _checks(world, api, libpq, topology, infra.stripe_api_base)
    errors = {name: len(found) for name, found in world.errors.items() if found}
    if errors:
        first = {name: found[:3] for name, found in world.errors.items() if found}
        raise BenchmarkFailed(f"soak: {sum(errors.values())} errors: {first}")
    routes = {name: {"count": len(values), "p50_ms": _percentile(values, 0.5),
                     "p99_ms": _percentile(values, 0.99),
                     "mean_ms": round(statistics.fmean(values), 1) if values else 0.0}
              for name, values in sorted(world.latencies.items())}  # fmt: skip
    return {"duration_s": round(elapsed, 1), "rate_per_second": rate, "operations": sent,
            "errors": 0, "faults": fault_log, "routes": routes, "checks": checks,
            "samples": samples}  # fmt: skip
