"""What an API process holds for its lifetime, built from settings in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import redis.asyncio as aioredis

from config.settings import Settings
from streamsvc.bootstrap import message_bus
from streamsvc.db import Database, make_engine
from streamsvc.db_reads import ReadPool
from streamsvc.http.callers import Authenticator
from streamsvc.http.metrics import HttpMetrics
from streamsvc.kit import redis_clients
from streamsvc.kit.clock import Clock
from streamsvc.kit.redis_clients import AsyncRedis, SyncRedis
from streamsvc.kit.shutdown import settle
from streamsvc.listings.cache import CatalogueCache
from streamsvc.orders.sold_out import SoldOutMemory
from streamsvc.payments.factory import gateway_from_settings
from streamsvc.payments.gateway import PaymentGateway
from streamsvc.payments.intake import WebhookIntake
from streamsvc.venues.auth import VenueKeys
from streamsvc.viewing.store import ViewingStore
from streamsvc.viewing.tokens import TokenSigner, signer_from_settings
from workers.celery_app import create_celery
from workers.queue import CeleryQueue, TaskQueue


@dataclass
class Resources:
    settings: Settings
    database: Database
    redis: AsyncRedis
    metrics: HttpMetrics
    clock: Clock
    gateway: PaymentGateway
    queue: TaskQueue
    signer: TokenSigner
    viewing: ViewingStore
    sync_redis: SyncRedis
    authenticator: Authenticator
    catalogue: CatalogueCache
    reads: ReadPool
    sold_out: SoldOutMemory  # tiers this process saw sold out, for a second (orders/sold_out.py)
    webhooks: WebhookIntake  # Stripe webhooks stored with one commit per batch

    @classmethod
    def build(
        cls,
        settings: Settings,
        metrics: HttpMetrics,
        clock: Clock,
        gateway: PaymentGateway | None = None,
        queue: TaskQueue | None = None,
    ) -> Resources:
        # Domain events are handled right after each commit (ticket statuses mirrored
        # in Redis, ticket mails enqueued); the durable ones go through the outbox.
        sync_redis = redis_clients.sync_client(settings)
        queue = queue or CeleryQueue(create_celery(settings))
        database = Database(
            make_engine(settings.require("database_url")),
            bus=message_bus(settings, sync_redis, queue.enqueue),
        )
        # A blocking pool: past 64 connections a request waits for one (up to 2 s)
        # instead of failing, which matters under a burst of buyers.
        redis = redis_clients.async_client(settings, max_connections=64, blocking=True)
        hot_path = _hot_path_redis(settings)
        return cls(
            settings=settings,
            database=database,
            redis=redis,
            metrics=metrics,
            clock=clock,
            gateway=gateway or gateway_from_settings(settings),
            queue=queue,
            signer=signer_from_settings(settings),
            viewing=ViewingStore(
                hot_path,
                settings.viewing_session_idle_seconds,
                settings.viewing_authorize_cache_seconds,
                subscriber=redis_clients.subscriber(settings, hot_path),
            ),
            sync_redis=sync_redis,
            authenticator=VenueKeys(),
            catalogue=CatalogueCache(redis, timedelta(seconds=settings.catalogue_cache_seconds)),
            sold_out=SoldOutMemory(timedelta(seconds=settings.order_sold_out_cache_seconds)),
            webhooks=WebhookIntake(database),
            # Single reads on the event loop (a ticket's redemption): db_reads.py.
            reads=ReadPool(settings.require("database_url")),
        )

    async def close(self) -> None:
        # A connection Redis dropped under us must not hold up shutdown: each close is
        # bounded, and what does not close in time is left to the process's exit.
        closings = [self.redis.aclose(), self.viewing.client.aclose(), self.reads.close()]
        if isinstance(self.redis, aioredis.Redis):
            # Its pool was handed in, so closing the client leaves the pool open.
            closings.insert(1, self.redis.connection_pool.disconnect())
        for closing in closings:
            await settle(closing, 2)
        self.sync_redis.close()
        self.database.dispose()
        close_gateway = getattr(self.gateway, "close", None)
        if close_gateway is not None:
            close_gateway()


def _hot_path_redis(settings: Settings) -> AsyncRedis:
    """Authorize's own client: a plain pool (cheaper per call than the blocking one)
    large enough for every request a process can have in flight (per node on a cluster)."""
    return redis_clients.async_client(settings, max_connections=512, blocking=False)
