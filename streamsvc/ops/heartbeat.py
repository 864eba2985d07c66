"""The worker heartbeat: beat schedules it, a worker records it, /readyz reports it.

A fresh heartbeat proves that the broker delivers, a worker consumes and beat
schedules. Its one Redis key is written down here.
"""

from __future__ import annotations

import time

from streamsvc.kit.redis_clients import AsyncRedis, SyncRedis

HEARTBEAT_KEY = "streamsvc:ops:worker-heartbeat"


def record_heartbeat(client: SyncRedis, interval_seconds: int, now: float | None = None) -> None:
    """Store the time of this heartbeat; it expires when three are missed."""
    stamp = time.time() if now is None else now
    client.set(HEARTBEAT_KEY, f"{stamp:.3f}", ex=interval_seconds * 3)


async def last_heartbeat(client: AsyncRedis) -> float | None:
    raw = await client.get(HEARTBEAT_KEY)
    return float(raw) if raw is not None else None
