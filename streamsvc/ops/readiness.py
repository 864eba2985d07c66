"""Readiness: is every dependency the API needs reachable right now?"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kombu import Connection  # type: ignore[attr-defined]
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from streamsvc.db import Database
from streamsvc.kit import redis_clients
from streamsvc.kit.redis_clients import AsyncRedis
from streamsvc.ops.heartbeat import last_heartbeat


@dataclass(frozen=True)
class Check:
    status: str  # "ok" or "down"
    latency_ms: float
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "latency_ms": self.latency_ms}
        if self.detail:
            out["detail"] = self.detail
        return out


async def _timed(probe: Callable[[], Awaitable[object]], timeout: float) -> Check:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe(), timeout)
    except TimeoutError:
        return Check("down", round((time.perf_counter() - started) * 1000, 2), "timed out")
    except Exception as exc:
        # The exception class only: messages may carry hosts or credentials.
        return Check("down", round((time.perf_counter() - started) * 1000, 2), type(exc).__name__)
    return Check("ok", round((time.perf_counter() - started) * 1000, 2))


def _ping_database(database: Database) -> None:
    with database.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _ping_broker(url: str, timeout: float) -> None:
    with Connection(  # type: ignore[no-untyped-call]
        url, connect_timeout=timeout, transport_options={"max_retries": 0}
    ) as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)


async def check_dependencies(
    database: Database, redis: AsyncRedis, broker_url: str, timeout: float
) -> dict[str, Check]:
    """Probe PostgreSQL, Redis and the broker concurrently."""
    results = await asyncio.gather(
        _timed(lambda: run_in_threadpool(_ping_database, database), timeout),
        _timed(lambda: redis_clients.ping(redis), timeout),
        _timed(lambda: run_in_threadpool(_ping_broker, broker_url, timeout), timeout),
    )
    return dict(zip(("database", "redis", "broker"), results, strict=True))


async def worker_status(redis: AsyncRedis, interval_seconds: int) -> dict[str, Any]:
    """Informational: when a worker last ran the beat-scheduled heartbeat."""
    try:
        stamp = await last_heartbeat(redis)
    except Exception as exc:
        return {"status": "unknown", "detail": type(exc).__name__}
    if stamp is None:
        return {"status": "unseen"}
    age = max(0.0, time.time() - stamp)
    status = "ok" if age <= interval_seconds * 3 else "stale"
    return {"status": status, "last_seen_seconds_ago": round(age, 1)}
