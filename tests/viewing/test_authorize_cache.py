"""Authorize answers active sessions from memory for a moment; changes reach every API
process by pub/sub within milliseconds and clear it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.kit.clock import FixedClock
from streamsvc.viewing import keys
from streamsvc.viewing.store import mark_tickets
from tests.conftest import RecordingQueue
from tests.harness import Infrastructure
from tests.viewing.conftest import Show
from tests.viewing.test_viewing import _doors_open


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    # The longest allowed, and longer than the waits below: a 403 seen within a wait
    # came from the change channel clearing memory, not from an answer that expired.
    return infra.settings(viewing_authorize_cache_seconds=10)


@pytest.fixture
def client(settings: Settings, clock: FixedClock, queue: RecordingQueue) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock, queue=queue), raise_server_exceptions=False) as c:
        deadline = time.monotonic() + 5
        while not c.app.state.resources.viewing._listening:  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, "the change channel was not joined"
            time.sleep(0.01)
        yield c


def _ticket_in_redis(client: redis.Redis) -> str:
    key = next(iter(client.scan_iter(f"{keys.PREFIX}*:devices")))
    text = key.decode() if isinstance(key, bytes) else str(key)
    return text.split("{")[1].split("}")[0]


def _until(check: Any, limit: float = 8.0) -> float:
    """Seconds until `check()` holds (fails past `limit`, a deadline for a stuck test,
    not a speed target: speed is measured by bench/, `revocation`)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < limit, "not within the limit"
        time.sleep(0.001)
    return time.monotonic() - started


def test_active_sessions_come_from_memory(show: Show, redis_client: redis.Redis) -> None:
    _, [code] = show.paid_tickets("hd")
    _doors_open(show)
    started = show.redeem(code, "tv").json()
    assert show.authorize(started["token"]).status_code == 204
    # Behind the cache's back (no message): the session is gone in Redis, memory answers.
    ticket_id = _ticket_in_redis(redis_client)
    redis_client.delete(keys.session_key(ticket_id, started["session_id"]))
    assert show.authorize(started["token"]).status_code == 204


def test_a_refund_clears_the_cache_of_every_process(show: Show, settings: Settings) -> None:
    order, [code] = show.paid_tickets("hd")
    _doors_open(show)
    started = show.redeem(code, "tv").json()
    assert show.authorize(started["token"]).status_code == 204  # now remembered
    from tests.orders import scenarios as s

    s.deliver(show.client, s.charge_refunded(order, [("re_c", order["total_amount"])]))
    show.drain()  # commits, mirrors into Redis, publishes the ticket
    _until(lambda: show.authorize(started["token"]).status_code == 403)


def test_a_replaced_device_is_refused_by_the_cache_at_once(show: Show) -> None:
    _, [code] = show.paid_tickets("swap")
    _doors_open(show)
    old = show.redeem(code, "tv").json()
    assert show.authorize(old["token"]).status_code == 204
    show.redeem(code, "phone")
    _until(lambda: show.authorize(old["token"]).status_code == 403)


def test_without_the_channel_nothing_is_remembered(show: Show, settings: Settings) -> None:
    _, [code] = show.paid_tickets("hd")
    _doors_open(show)
    started = show.redeem(code, "tv").json()
    store = show.client.app.state.resources.viewing  # type: ignore[attr-defined]
    store._listening = False  # as when the pub/sub connection is lost
    store._cache.clear()
    assert show.authorize(started["token"]).status_code == 204
    mirror = redis.Redis.from_url(settings.require("redis_url"))
    ticket_id = _ticket_in_redis(mirror)
    mark_tickets(mirror, {ticket_id: "revoked"}, 60)
    mirror.close()
    assert show.authorize(started["token"]).status_code == 403  # straight from Redis
