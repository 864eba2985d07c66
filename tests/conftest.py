"""Fixtures: real PostgreSQL and Redis (clean for every test), localstripe, a Celery worker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.db import make_engine
from streamsvc.kit.clock import FixedClock
from streamsvc.migrate import upgrade
from streamsvc.models import metadata
from tests.harness import Infrastructure, WorkerProcess
from workers.celery_app import create_celery

_infra: Infrastructure | None = None


def _infrastructure() -> Infrastructure:
    global _infra  # noqa: PLW0603
    if _infra is None:
        _infra = Infrastructure.resolve()
        _reset_schema(_infra.database_url)
    return _infra


def _reset_schema(url: str) -> None:
    """A fresh schema from the migrations (not create_all) once per run."""
    engine = make_engine(url, pool_size=1)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(url)


def pytest_report_header(config: pytest.Config) -> list[str]:
    infra = _infrastructure()
    return [
        f"streamsvc PostgreSQL: {infra.database_source}",
        f"streamsvc Redis: {infra.redis_source}",
        f"streamsvc Stripe: localstripe at {infra.stripe_api_base}",
    ]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _infra is not None:
        _infra.close()


@pytest.fixture(scope="session")
def infra() -> Infrastructure:
    return _infrastructure()


@pytest.fixture(scope="session")
def engine(infra: Infrastructure) -> Iterator[Any]:
    engine = make_engine(infra.database_url, pool_size=2)
    yield engine
    engine.dispose()


@pytest.fixture
def clean_state(infra: Infrastructure, engine: Any) -> None:
    """Every test starts from empty tables and an empty application Redis database."""
    tables = [table.name for table in metadata.sorted_tables]
    if tables:
        with engine.begin() as conn:
            quoted = ", ".join(f'"{name}"' for name in tables)
            conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
    client = redis.Redis.from_url(infra.redis_url)
    client.flushdb()
    client.close()


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    return infra.settings()


@pytest.fixture
def clock() -> FixedClock:
    """The time every test starts at; tests move it with clock.advance(...)."""
    return FixedClock(datetime(2026, 12, 1, 12, 0, tzinfo=UTC))


class RecordingQueue:
    """Our TaskQueue protocol, recording instead of sending: tests run the work themselves
    (or, in tests/e2e, a real worker does)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[str, ...]]] = []

    def enqueue(self, name: str, *args: str) -> None:
        self.sent.append((name, args))

    def names(self) -> list[str]:
        return [name for name, _ in self.sent]


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def client(settings: Settings, clock: FixedClock, queue: RecordingQueue) -> Iterator[TestClient]:
    app = create_app(settings, clock, queue=queue)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def redis_client(infra: Infrastructure, clean_state: None) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(infra.redis_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def localstripe(infra: Infrastructure) -> str:
    """The base URL of the harness's localstripe process."""
    return infra.stripe_api_base


@pytest.fixture(scope="session")
def celery_app(infra: Infrastructure) -> Any:
    return create_celery(infra.settings())


@pytest.fixture(scope="session")
def worker(
    infra: Infrastructure, celery_app: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    log_path: Path = tmp_path_factory.mktemp("worker") / "worker.log"
    process = WorkerProcess(infra.environ(), log_path)
    process.start(celery_app)
    yield process
    process.stop()
