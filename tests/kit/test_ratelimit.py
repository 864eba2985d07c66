"""Fixed-window rate limits against the real Redis: several limits in one round trip."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from streamsvc.kit.ratelimit import PREFIX, over_limit, over_limits
from tests.harness import Infrastructure

NOW = 1_000_030.0  # 10 s into a minute's window; 2,830 s into an hour's


def _run(infra: Infrastructure, limits: list[tuple[str, int, int]], times: int) -> list[Any]:
    async def hits() -> list[Any]:
        client = aioredis.Redis.from_url(infra.redis_url)
        try:
            return [await over_limits(client, limits, NOW) for _ in range(times)]
        finally:
            await client.aclose()

    return asyncio.run(hits())


def test_the_first_exceeded_limit_answers_and_every_limit_counts(
    infra: Infrastructure, redis_client: redis.Redis
) -> None:
    limits = [("orders:ip:198.51.100.7", 2, 60), ("orders:email:a@example.org", 5, 3600)]
    answers = _run(infra, limits, 3)
    # The third hit is over the address's limit: its minute resets in 50 s.
    assert answers == [None, None, 50]
    # Both counted every hit, in their own windows, with expiries a window long.
    minute = redis_client.get(f"{PREFIX}orders:ip:198.51.100.7:{int(NOW // 60)}")
    hour_key = f"{PREFIX}orders:email:a@example.org:{int(NOW // 3600)}"
    assert (minute, redis_client.get(hour_key)) == (b"3", b"3")
    assert 3600 < redis_client.ttl(hour_key) <= 3601
    # Over the e-mail's limit only: the hour's remaining time.
    again = _run(infra, [("orders:ip:203.0.113.9", 100, 60), limits[1]], 3)
    assert again == [None, None, 770]


def test_one_limit_is_the_same_check(infra: Infrastructure, redis_client: redis.Redis) -> None:
    async def hits() -> list[int | None]:
        client = aioredis.Redis.from_url(infra.redis_url)
        try:
            return [await over_limit(client, "checks:x", 1, 60, NOW) for _ in range(2)]
        finally:
            await client.aclose()

    assert asyncio.run(hits()) == [None, 50]


def test_redis_down_enforces_nothing_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    async def hit() -> int | None:
        client = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
        try:
            return await over_limits(
                client, [("orders:ip:x", 0, 60), ("orders:email:y", 0, 60)], NOW
            )
        finally:
            await client.aclose()

    with caplog.at_level(logging.WARNING, logger="streamsvc.kit.ratelimit"):
        assert asyncio.run(hit()) is None
    assert "rate limit orders, orders not checked: Redis unavailable" in caplog.text
