"""Viewing on a Redis Cluster of three masters (STREAMSVC_REDIS_CLUSTER), with two API
nodes: what one node starts, the other authorizes; a refund reaches both within a
second through pub/sub, with the authorize cache on; device limits, heartbeats, the
worker's heartbeat and audience copy, rate limits, the login throttle and recordings
work as on one server; every multi-key path spreads over the cluster's nodes.

The cluster is real: Debian's redis-server in cluster mode (tests/redis_cluster.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster as SyncRedisCluster
from redis.crc import key_slot
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.bootstrap import message_bus
from streamsvc.db import Database, make_engine
from streamsvc.errors import DependencyUnavailable, RateLimited
from streamsvc.kit import redis_clients
from streamsvc.kit.clock import FixedClock
from streamsvc.kit.ratelimit import over_limit
from streamsvc.orders.models import Ticket
from streamsvc.recordings.models import OfferKind
from streamsvc.staff.throttle import PREFIX, LoginThrottle, account_key
from streamsvc.viewing import keys
from streamsvc.viewing.ending import TicketSessionsEnder
from streamsvc.viewing.store import ViewingStore, mark_tickets
from tests.conftest import RecordingQueue
from tests.factories import make_venue, ok
from tests.harness import Infrastructure
from tests.recordings.access_helpers import grant
from tests.recordings.helpers import published_recording
from tests.redis_cluster import RedisCluster, cluster_state, redis_cluster, start_cluster
from tests.viewing.conftest import (
    Show,
    remembered,
    store_of,
    wait_until_heard,
    wait_until_listening,
)
from tests.viewing.test_revocation_with_cache import (
    test_a_watching_viewer_is_cut_off_on_the_next_authorize,
    test_a_won_dispute_lets_the_viewer_back_at_once,
    test_the_oldest_device_is_dropped_on_the_next_authorize,
)
from workers.base import WorkerResources
from workers.celery_app import create_celery

# The module-scoped cluster, used by the fixtures below; and the revocation paths with
# the authorize cache on (refunds by webhook and by staff, disputes opened, lost and won,
# a cancelled event, a staff revocation, a dropped device), run once more on the
# cluster: collected in this module, they get its fixtures (node A on the cluster, the
# worker's bus on a cluster client).
__all__ = [
    "redis_cluster",
    "test_a_watching_viewer_is_cut_off_on_the_next_authorize",
    "test_a_won_dispute_lets_the_viewer_back_at_once",
    "test_the_oldest_device_is_dropped_on_the_next_authorize",
]

# Long enough that only a message on the change channel, not the cache's expiry, can
# make a node refuse a viewer within the second the tests allow.
CACHE_SECONDS = 10.0
RATE_PER_EMAIL = 3


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None, redis_cluster: RedisCluster) -> Settings:
    redis_cluster.flush()
    # The broker stays the harness's own Redis server: the cluster is never one.
    return infra.settings(redis_url=redis_cluster.url, redis_cluster=True,
                          viewing_authorize_cache_seconds=CACHE_SECONDS,
                          order_rate_per_email=RATE_PER_EMAIL)  # fmt: skip


@pytest.fixture
def database(settings: Settings, followups: RecordingQueue) -> Iterator[Database]:
    """As the worker has it, its bus on a cluster client (conftest's is one server's)."""
    mirror = redis_clients.sync_client(settings)
    assert isinstance(mirror, SyncRedisCluster)
    database = Database(make_engine(settings.require("database_url"), pool_size=4),
                        bus=message_bus(settings, mirror, followups.enqueue))  # fmt: skip
    yield database
    database.dispose()
    mirror.close()


def _node(settings: Settings, clock: FixedClock, queue: RecordingQueue) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock, queue=queue), raise_server_exceptions=False) as c:
        wait_until_listening(store_of(c), settings.require("redis_url"))
        yield c


@pytest.fixture
def client(settings: Settings, clock: FixedClock, queue: RecordingQueue) -> Iterator[TestClient]:
    """API node A (the `show` fixture buys through it)."""
    yield from _node(settings, clock, queue)


@pytest.fixture
def client_b(settings: Settings, clock: FixedClock, queue: RecordingQueue) -> Iterator[TestClient]:
    """API node B: another app on the same cluster and database."""
    yield from _node(settings, clock, queue)


@pytest.fixture
def node_b(show: Show, client_b: TestClient) -> Show:
    """The same show, asked through node B."""
    return Show(show.venue, show.event, show.tiers, show.database, show.clock, client_b)


def _doors_open(show: Show) -> None:
    show.clock.at = datetime.fromisoformat(show.event["starts_at"]) - timedelta(minutes=30)


def _ticket_id(show: Show, code: str) -> str:
    with show.database.unit_of_work() as uow:
        return uow.session.exec(select(Ticket.id).where(Ticket.code == code)).one()


def _remember(node: Show, token: str, ticket_id: str) -> None:
    """Authorize on this node until it answers the session from memory."""
    deadline = time.monotonic() + 3
    while not remembered(store_of(node.client), ticket_id):
        assert time.monotonic() < deadline, "authorize never remembered the session"
        assert node.authorize(token).status_code == 204
    assert node.authorize(token).status_code == 204


def _refused(answer: Any, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code, answer.text


def test_the_api_runs_on_a_cluster_client(client: TestClient, client_b: TestClient) -> None:
    resources = client.app.state.resources  # type: ignore[attr-defined]
    assert isinstance(resources.redis, AsyncRedisCluster)
    assert isinstance(resources.viewing.client, AsyncRedisCluster)
    assert isinstance(resources.sync_redis, SyncRedisCluster)
    # Each node's change listener holds a plain connection to a node of its own.
    a, b = (store_of(c).subscriber for c in (client, client_b))
    assert a is not None and b is not None and a.node_name != b.node_name


def test_redeemed_on_a_authorized_on_b_and_a_refund_stops_both_within_a_second(
    show: Show, node_b: Show
) -> None:
    order, [code] = show.paid_tickets("hd")
    _doors_open(show)
    started = show.redeem(code, "tv")
    assert started.status_code == 201, started.text
    token, ticket_id = started.json()["token"], _ticket_id(show, code)
    assert node_b.authorize(token).status_code == 204
    for node in (show, node_b):
        _remember(node, token, ticket_id)

    refund = show.client.post(f"/v1/orders/{order['id']}/refunds",
                              json={"reason": "changed plans"}, headers=show.venue.headers)  # fmt: skip
    ok(refund, 202)
    refunded_at = time.monotonic()
    # Only a message makes a node forget what it remembered (for 10 s otherwise).
    for node in (show, node_b):
        wait_until_heard(store_of(node.client), ticket_id, limit=1)
    answers = [node.authorize(token) for node in (show, node_b)]
    assert time.monotonic() - refunded_at < 1
    for answer in answers:
        _refused(answer, 403, "revoked")
        assert answer.json()["error"]["state"] == "revoked"
    _refused(node_b.heartbeat(token), 403, "revoked")
    _refused(node_b.redeem(code, "phone"), 403, "revoked")


def test_a_device_replaced_on_b_is_refused_on_a_at_once(show: Show, node_b: Show) -> None:
    _, [code] = show.paid_tickets("swap")  # one device, the newest wins
    _doors_open(show)
    old = ok(show.redeem(code, "tv"), 201)
    ticket_id = _ticket_id(show, code)
    _remember(show, old["token"], ticket_id)
    show.clock.advance(seconds=5)
    new = ok(node_b.redeem(code, "phone"), 201)
    # The redeem's script published from the ticket's node; A listens on another or not.
    wait_until_heard(store_of(show.client), ticket_id, limit=1)
    _refused(show.authorize(old["token"]), 403, "session_replaced")
    assert show.authorize(new["token"]).status_code == 204


def test_device_limits_and_heartbeats_hold_across_nodes(show: Show, node_b: Show) -> None:
    _, [code] = show.paid_tickets("hd")  # two devices, a third refused
    _doors_open(show)
    tv = ok(show.redeem(code, "tv"), 201)
    phone = ok(node_b.redeem(code, "phone"), 201)
    for node in (show, node_b):
        _refused(node.redeem(code, "laptop"), 403, "device_limit")
    # The same device again keeps its session, whichever node it asks.
    assert ok(node_b.redeem(code, "tv"), 201)["session_id"] == tv["session_id"]

    show.clock.advance(seconds=120)
    beat = node_b.heartbeat(tv["token"])
    assert beat.status_code == 200, beat.text
    assert show.authorize(beat.json()["token"]).status_code == 204
    ended = show.client.delete(f"/v1/viewing/sessions/{phone['session_id']}",
                               headers={"Authorization": f"Bearer {phone['token']}"})  # fmt: skip
    assert ended.status_code == 204
    assert ok(node_b.redeem(code, "laptop"), 201)["session_id"] != phone["session_id"]


def _run_task(settings: Settings, clock: FixedClock, name: str, *args: str) -> Any:
    """A worker's task in-process, on the worker's own resources (its cluster client)."""
    app = create_celery(settings)
    app.loader.import_default_modules()
    resources = WorkerResources(settings, app, clock)
    app.streamsvc_resources = resources
    try:
        assert isinstance(resources.redis, SyncRedisCluster)
        return app.tasks[name].apply(args=list(args)).get()
    finally:
        resources.redis.close()
        if "database" in resources.__dict__:
            resources.database.dispose()


def test_the_workers_heartbeat_and_audience_copy_use_the_cluster(
    show: Show, node_b: Show, settings: Settings
) -> None:
    ready = node_b.client.get("/readyz").json()
    assert ready["checks"]["redis"]["status"] == "ok"
    assert ready["checks"]["worker"]["status"] == "unseen"
    _run_task(settings, show.clock, "ops.worker_heartbeat")
    ready = ok(show.client.get("/readyz"))
    assert ready["status"] == "ok"
    assert ready["checks"]["worker"]["status"] == "ok"

    _, [code] = show.paid_tickets("hd")
    _doors_open(show)
    ok(show.redeem(code, "tv"), 201)
    # The redeem's minute, and the ticket counted once by tier and once by country.
    assert _run_task(settings, show.clock, "viewing.copy_audience", show.event["id"]) == 3


def test_orders_are_rate_limited_across_nodes(show: Show, node_b: Show) -> None:
    url = f"/v1/public/events/{show.event['id']}/orders"
    body = {"email": "eager@example.org", "country": "NL",
            "items": [{"tier_id": show.tiers["hd"]["id"], "quantity": 1}]}  # fmt: skip
    statuses = [(node_b if i % 2 else show).client.post(url, json=body).status_code
                for i in range(RATE_PER_EMAIL)]  # fmt: skip
    assert statuses == [201] * RATE_PER_EMAIL
    for node in (show, node_b):
        limited = node.client.post(url, json=body)
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limited"


def test_a_recording_access_redeems_on_a_and_plays_on_b(
    client: TestClient, client_b: TestClient, clock: FixedClock, database: Database
) -> None:
    venue = make_venue(client)
    recording = published_recording(client, venue)
    purchase = grant(database, recording["id"], OfferKind.purchase, clock.now())
    started = ok(client.post(f"/v1/recordings/access/{purchase.code}/sessions",
                             json={"device_id": "tv"}), 201)  # fmt: skip
    uri = f"/vod/{recording['id']}/hd/index.m3u8"
    headers = {"X-Original-URI": uri, "Authorization": f"Bearer {started['token']}"}
    assert client_b.get("/v1/viewing/authorize", headers=headers).status_code == 204
    beat = client_b.post("/v1/viewing/heartbeat", headers={"X-Viewing-Token": started["token"]})
    assert beat.status_code == 200, beat.text


def test_the_login_throttle_reads_and_clears_keys_of_several_slots(settings: Settings) -> None:
    email, address = "admin@example.org", "203.0.113.9"
    assert settings.staff_login_free_failures == 5
    pair = f"{account_key(email)}:{address}"
    # The wait of the pair and of the address are read together, from two slots.
    assert key_slot(f"{PREFIX}wait:pair:{pair}".encode()) != key_slot(
        f"{PREFIX}wait:addr:{address}".encode()
    )

    async def run() -> str | None:
        client = redis_clients.async_client(settings, max_connections=8, blocking=True)
        throttle = LoginThrottle(client, settings)
        try:
            for _ in range(settings.staff_login_free_failures + 1):
                await throttle.failed(email, address, 1000.0)
            try:
                await throttle.check(email, address, 1000.0)
            except RateLimited as exc:
                waited: str | None = exc.headers["Retry-After"]
            else:
                waited = None
            await throttle.succeeded(email, address)
            await throttle.check(email, address, 1000.0)  # the pair's wait is gone
            return waited
        finally:
            await client.aclose()

    assert asyncio.run(run()) == "1"  # one failure past the free ones: wait a second
    cluster = redis_clients.sync_client(settings)
    try:
        assert cluster.exists(f"{PREFIX}fail:pair:{pair}", f"{PREFIX}wait:pair:{pair}") == 0
        # The address's and the account's counts stay (six failures: five free, one more).
        assert cluster.get(f"{PREFIX}fail:addr:{address}") == b"6"
        assert cluster.get(f"{PREFIX}fail:acct:{account_key(email)}") == b"6"
    finally:
        cluster.close()


TICKETS = [f"tkt_cluster{i:02d}aaaaaaaaaaaaa" for i in range(8)]
EVENTS = [f"evt_cluster{i:02d}aaaaaaaaaaaaa" for i in range(4)]


def test_every_multi_ticket_path_spreads_over_the_nodes(
    settings: Settings, redis_cluster: RedisCluster
) -> None:
    """The console's sessions of several tickets, ending a pass's sessions, mirroring
    statuses and the audience's reads: pipelines of one-slot commands over nodes."""
    sync = redis_clients.sync_client(settings)
    assert isinstance(sync, SyncRedisCluster)
    nodes = {sync.get_node_from_key(keys.ticket_keys(t)[0]).name for t in TICKETS}  # type: ignore[no-untyped-call]
    assert len(nodes) >= 2, "the tickets' slots should spread over several nodes"
    now = 1_800_000_000_000

    async def start_and_read() -> tuple[dict[str, int], dict[str, int]]:
        client = redis_clients.async_client(settings, max_connections=8, blocking=False)
        store = ViewingStore(client, settings.viewing_session_idle_seconds, cache_seconds=0,
                             subscriber=redis_clients.subscriber(settings, client))  # fmt: skip
        try:
            for i, ticket in enumerate(TICKETS):
                slot = await store.start_session(ticket, "tv", f"ses_{i}", now_ms=now,
                                                 max_devices=2, policy="refuse")  # fmt: skip
                assert slot.outcome == "ok"
                await store.audience.joined(EVENTS[i % len(EVENTS)], f"ses_{i}", now_ms=now,
                                            ticket_id=ticket, tier_id="tier_a", country="BE")  # fmt: skip
            sessions = await store.ticket_sessions(TICKETS, now + 1000)
            watching = await store.audience.watching_now(EVENTS, now + 1000, 60_000)
            return {t: len(found) for t, found in sessions.items()}, watching
        finally:
            await client.aclose()

    try:
        sessions, watching = asyncio.run(start_and_read())
        assert sessions == dict.fromkeys(TICKETS, 1)
        assert watching == dict.fromkeys(EVENTS, 2)
        assert TicketSessionsEnder(sync)(TICKETS[:5], now + 1) == 5
        assert TicketSessionsEnder(sync)(TICKETS[:5], now + 1) == 0  # idempotent
        mark_tickets(sync, {TICKETS[5]: "revoked", TICKETS[6]: "suspended", TICKETS[7]: "valid"},
                     600)  # fmt: skip
        assert [sync.get(keys.ticket_keys(t)[2]) for t in TICKETS[5:]] == [
            b"revoked", b"suspended", None,
        ]  # fmt: skip
        mark_tickets(sync, {TICKETS[5]: "valid"}, 600)
        assert sync.exists(keys.ticket_keys(TICKETS[5])[2]) == 0
    finally:
        sync.close()


def test_every_node_hears_a_change_and_a_lost_node_is_left_for_another(
    settings: Settings, redis_cluster: RedisCluster
) -> None:
    """Three listeners, one on each node, all hear the statuses mirrored through the
    cluster client (a listener's generation moves only when a message arrives); one
    whose connection is cut joins the next node and hears again."""

    async def run() -> tuple[set[str], list[int], str, str, int]:
        clients = [redis_clients.async_client(settings, max_connections=8, blocking=False)
                   for _ in range(3)]  # fmt: skip
        subscribers = [redis_clients.subscriber(settings, client) for client in clients]
        for turn, subscriber in enumerate(subscribers):
            assert subscriber is not None
            subscriber._turn = turn  # one listener per node, whatever the process id
        stores = [ViewingStore(client, 600, subscriber=subscriber)
                  for client, subscriber in zip(clients, subscribers, strict=True)]  # fmt: skip
        listeners = [asyncio.create_task(store.listen()) for store in stores]
        sync = redis_clients.sync_client(settings)
        try:
            await _until(lambda: all(store._listening for store in stores))
            on = {s.node_name for s in subscribers if s is not None}
            mark_tickets(sync, dict.fromkeys(TICKETS, "revoked"), 600)
            await _until(lambda: all(store._generation >= len(TICKETS) for store in stores))
            await asyncio.sleep(0.2)  # nothing more arrives
            heard = [store._generation for store in stores]
            # The first listener's connection is cut: it goes to the next node.
            first = subscribers[0]
            assert first is not None
            before = first.node_name
            host, _, port = before.rpartition(":")
            with redis.Redis(host=host, port=int(port)) as node:
                node.client_kill_filter(_type="pubsub")
            await _until(lambda: first.node_name != before and stores[0]._listening, 10)
            again = stores[0]._generation
            mark_tickets(sync, {TICKETS[0]: "valid"}, 600)
            await _until(lambda: stores[0]._generation > again)
            return on, heard, before, first.node_name, stores[0]._generation - again
        finally:
            sync.close()
            for store in stores:
                store.stop()
            for listener in listeners:
                listener.cancel()
            await asyncio.gather(*listeners, return_exceptions=True)
            for client in clients:
                await client.aclose()

    on, heard, before, after, heard_again = asyncio.run(run())
    assert on == {f"127.0.0.1:{port}" for port in redis_cluster.ports}
    assert heard == [len(TICKETS)] * 3
    assert before != after and heard_again == 1


async def _until(condition: Any, limit: float = 5) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "not within the limit"
        await asyncio.sleep(0.01)


def test_a_cluster_that_lost_a_node_or_all_is_unavailable_not_an_error(
    settings: Settings, tmp_path: Path
) -> None:
    """As when one server is away: viewing answers 503 (DependencyUnavailable), rate limits
    go unchecked, readiness's ping fails; never redis-py's cluster errors (a 500)."""
    lost = start_cluster(tmp_path / "lost")
    on_lost = settings.model_copy(update={"redis_url": lost.url})
    dead_port = lost.ports[2]

    async def run() -> tuple[list[str], list[str]]:
        client = redis_clients.async_client(on_lost, max_connections=8, blocking=False)
        store = ViewingStore(client, 600, subscriber=redis_clients.subscriber(on_lost, client))
        try:
            for ticket in TICKETS:
                await store.start_session(ticket, "tv", "ses_1", now_ms=1000, max_devices=2,
                                          policy="refuse")  # fmt: skip
            assert isinstance(client, AsyncRedisCluster)
            nodes = {t: client.get_node_from_key(keys.ticket_keys(t)[0]) for t in TICKETS}
            port_of = {t: int(node.port) for t, node in nodes.items() if node is not None}
            # A ticket on the node that goes, and one on a node that stays.
            asked = [next(t for t in TICKETS if port_of[t] == dead_port),
                     next(t for t in TICKETS if port_of[t] != dead_port)]  # fmt: skip
            lost.processes[2].kill()
            lost.processes[2].wait()
            deadline = time.monotonic() + 15
            while cluster_state(lost.ports[0]) != "fail":  # the others mark its slots lost
                assert time.monotonic() < deadline, "the cluster never noticed the lost node"
                await asyncio.sleep(0.1)
            outcomes = [await _outcome(store.session_state(t, "ses_1")) for t in asked]
            assert await over_limit(client, "orders:ip:x", 1, 60, 1000.0) is None
            outcomes.append(await _outcome(redis_clients.ping(client)))
            lost.stop()  # every node gone: the client cannot even learn the slots again
            fresh = redis_clients.async_client(on_lost, max_connections=8, blocking=False)
            again = ViewingStore(fresh, 600, subscriber=redis_clients.subscriber(on_lost, fresh))
            gone = [await _outcome(store.session_state(asked[1], "ses_1")),
                    await _outcome(again.session_state(asked[1], "ses_1")),
                    await _outcome(again.audience.watching_now(EVENTS, 1000, 60_000))]  # fmt: skip
            assert await over_limit(fresh, "orders:ip:x", 1, 60, 1000.0) is None
            await fresh.aclose()
            return outcomes, gone
        finally:
            await client.aclose()

    try:
        outcomes, gone = asyncio.run(run())
    finally:
        lost.stop()
    assert outcomes == ["DependencyUnavailable", "DependencyUnavailable", "ConnectionError"]
    assert gone == ["DependencyUnavailable"] * 3


async def _outcome(call: Any) -> str:
    try:
        await call
    except (DependencyUnavailable, redis.RedisError) as exc:
        return type(exc).__name__
    return "answered"
