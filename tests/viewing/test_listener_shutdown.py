"""The change listener stops when the API shuts down, even when the Redis client turns
its cancellation into a Redis timeout (async-timeout does this when a cancel and a read
deadline meet): a listener that took that for a lost channel kept reconnecting, and
the process's shutdown waited for it for ever (a CI run hung 120 s in a teardown)."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import TimeoutError as RedisTimeout

from streamsvc.kit.shutdown import settle
from streamsvc.viewing.store import ViewingStore
from tests.harness import Infrastructure


class _CancelTurnedIntoTimeout(PubSub):
    """The real subscription, except that a cancellation of its read comes out as the
    Redis timeout a racing read deadline produces."""

    async def parse_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().parse_response(*args, **kwargs)
        except asyncio.CancelledError:
            raise RedisTimeout("Timeout reading from socket") from None


async def _listen_then_shut_down(redis_url: str, *, by_stop: bool) -> tuple[bool, bool]:
    client = aioredis.Redis.from_url(redis_url)
    client.pubsub = lambda **kw: _CancelTurnedIntoTimeout(client.connection_pool, **kw)  # type: ignore[method-assign]
    store = ViewingStore(client, idle_seconds=60)
    listener = asyncio.create_task(store.listen())
    for _ in range(500):
        if store._listening:
            break
        await asyncio.sleep(0.01)
    heard = store._listening
    if by_stop:
        store.stop()
    listener.cancel()
    stopped = await settle(listener, 3)
    await client.aclose()
    return heard, stopped


def test_a_cancellation_disguised_as_a_timeout_still_stops_the_listener(
    infra: Infrastructure, clean_state: None
) -> None:
    heard, stopped = asyncio.run(_listen_then_shut_down(infra.redis_url, by_stop=False))
    assert heard, "the listener never joined the change channel"
    assert stopped, "the listener took its cancellation for a lost channel and went on"


def test_stop_ends_the_listener_whatever_becomes_of_the_cancellation(
    infra: Infrastructure, clean_state: None
) -> None:
    heard, stopped = asyncio.run(_listen_then_shut_down(infra.redis_url, by_stop=True))
    assert heard and stopped


async def _stubborn(released: asyncio.Event) -> None:
    while not released.is_set():
        try:
            await released.wait()
        except asyncio.CancelledError:
            continue  # the kind of work `asyncio.wait_for` (3.11) would wait on for ever


def test_settle_does_not_wait_for_work_that_ignores_its_cancellation() -> None:
    async def run() -> tuple[bool, bool]:
        quick = await settle(asyncio.sleep(0), 1)
        released = asyncio.Event()
        stuck = await settle(_stubborn(released), 0.05)
        released.set()  # else the loop's own shutdown would wait for it for ever
        await asyncio.sleep(0)
        return quick, stuck

    assert asyncio.run(run()) == (True, False)
