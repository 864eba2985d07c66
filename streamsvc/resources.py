"""What an API process holds for its lifetime, built from settings in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from config.settings import Settings
from streamsvc.db import Database, make_engine
from streamsvc.kit.clock import Clock
from streamsvc.ops.metrics import HttpMetrics


@dataclass
class Resources:
    settings: Settings
    database: Database
    redis: aioredis.Redis
    metrics: HttpMetrics
    clock: Clock

    @classmethod
    def build(cls, settings: Settings, metrics: HttpMetrics, clock: Clock) -> Resources:
        database = Database(make_engine(settings.require("database_url")))
        redis = aioredis.Redis.from_url(
            settings.require("redis_url"),
            max_connections=64,
            socket_connect_timeout=2,
            socket_timeout=2,
            health_check_interval=30,
        )
        return cls(settings=settings, database=database, redis=redis, metrics=metrics, clock=clock)

    async def close(self) -> None:
        await self.redis.aclose()
        self.database.dispose()
