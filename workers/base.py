"""The base task: resources built per worker process, a unit of work per task."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from celery import Task

from config.settings import Settings
from streamsvc.bootstrap import message_bus
from streamsvc.db import Database, UnitOfWork, make_engine
from streamsvc.kit import redis_clients
from streamsvc.kit.clock import Clock, SystemClock
from streamsvc.kit.redis_clients import SyncRedis
from streamsvc.outbox.bus import MessageBus
from streamsvc.payments.factory import gateway_from_settings
from streamsvc.payments.gateway import PaymentGateway


class WorkerResources:
    """Built lazily, so each forked worker process opens its own connections."""

    def __init__(self, settings: Settings, app: Any = None, clock: Clock | None = None) -> None:
        self.settings = settings
        self.app = app  # the Celery app, to enqueue follow-up tasks
        self.clock = clock or SystemClock()

    def enqueue(self, name: str, *args: str) -> None:
        self.app.send_task(name, args=list(args))

    @cached_property
    def bus(self) -> MessageBus:
        return message_bus(self.settings, self.redis, self.enqueue)

    @cached_property
    def database(self) -> Database:
        return Database(
            make_engine(self.settings.require("database_url"), pool_size=2), bus=self.bus
        )

    @cached_property
    def gateway(self) -> PaymentGateway:
        return gateway_from_settings(self.settings)

    @cached_property
    def redis(self) -> SyncRedis:
        return redis_clients.sync_client(self.settings, timeout=5)


class StreamsvcTask(Task):  # type: ignore[misc]
    """Tasks take ids, re-read what they need and commit through `unit_of_work()`."""

    abstract = True

    @property
    def resources(self) -> WorkerResources:
        resources: WorkerResources = self.app.streamsvc_resources
        return resources

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        with self.resources.database.unit_of_work() as uow:
            yield uow

    def enqueue(self, name: str, *args: str) -> None:
        """Send another task by name (from an after-commit callback)."""
        self.app.send_task(name, args=list(args))
