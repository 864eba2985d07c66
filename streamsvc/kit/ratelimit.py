"""Fixed-window rate limits in Redis: one INCR and one EXPIRE per check, pipelined."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from redis.exceptions import RedisError

from streamsvc.kit.redis_clients import AsyncRedis

log = logging.getLogger(__name__)
PREFIX = "streamsvc:ratelimit:"


async def over_limit(
    redis: AsyncRedis, name: str, limit: int, window_seconds: int, now: float
) -> int | None:
    """Count one hit; the seconds until the window resets when over `limit`, else None.

    When Redis is down the limit is not enforced: selling goes on, and it is logged.
    """
    return await over_limits(redis, [(name, limit, window_seconds)], now)


async def over_limits(
    redis: AsyncRedis, limits: Sequence[tuple[str, int, int]], now: float
) -> int | None:
    """Count one hit on each (name, limit, window in seconds) in one round trip to Redis;
    the seconds until the first exceeded limit's window resets, else None. One round
    trip, not one per limit: an on-sale burst waits for Redis's pool once per request.
    Every limit is counted, even past the first exceeded one (a refused hit counts)."""
    windows = [int(now // window_seconds) for _, _, window_seconds in limits]
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for (name, _, window_seconds), window in zip(limits, windows, strict=True):
                key = f"{PREFIX}{name}:{window}"
                pipe.incr(key)
                pipe.expire(key, window_seconds + 1)
            answers = await pipe.execute()
    except RedisError:
        names = ", ".join(name.split(":", maxsplit=1)[0] for name, _, _ in limits)
        log.warning("rate limit %s not checked: Redis unavailable", names)
        return None
    for (_, limit, window_seconds), window, count in zip(
        limits, windows, answers[::2], strict=True
    ):
        if int(count) > limit:
            return max(1, int((window + 1) * window_seconds - now))
    return None
