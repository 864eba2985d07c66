"""Fixed-window rate limits in Redis: one INCR and one EXPIRE per check, pipelined."""

from __future__ import annotations

import logging

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
    window = int(now // window_seconds)
    key = f"{PREFIX}{name}:{window}"
    try:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, window_seconds + 1)
            count, _ = await pipe.execute()
    except RedisError:
        log.warning("rate limit %s not checked: Redis unavailable", name.split(":", maxsplit=1)[0])
        return None
    if int(count) <= limit:
        return None
    return max(1, int((window + 1) * window_seconds - now))
