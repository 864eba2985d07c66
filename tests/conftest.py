"""Fixtures: real PostgreSQL and Redis (clean for every test), localstripe, a Celery worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
import uvicorn
from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.bootstrap import message_bus
from streamsvc.db import Database, make_engine
from streamsvc.embedded import free_port
from streamsvc.kit.clock import FixedClock
from streamsvc.migrate import upgrade
from streamsvc.models import metadata
from tests.factories import VenueHandle, make_tier, make_venue, published_event
from tests.harness import Infrastructure, WorkerProcess
from tests.mailbox import Mailbox, running_mailbox
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
    global _infra  # noqa: PLW0603
    if _infra is not None:
        _infra.close()
        # A later pytest.main() in this process (the mutation tester forks one per
        # mutant) must resolve servers of its own, not reuse the closed ones.
        _infra = None


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
def followups() -> RecordingQueue:
    """What the handlers of domain events enqueue for `database` (ticket mails...)."""
    return RecordingQueue()


@pytest.fixture
def database(settings: Settings, followups: RecordingQueue) -> Iterator[Database]:
    """The database as the worker has it: its message bus is the one of
    streamsvc.bootstrap (ticket statuses mirrored in Redis, durable events through the
    outbox), enqueueing into `followups` instead of Celery."""
    mirror = redis.Redis.from_url(settings.require("redis_url"))
    database = Database(make_engine(settings.require("database_url"), pool_size=4),
                        bus=message_bus(settings, mirror, followups.enqueue))  # fmt: skip
    yield database
    database.dispose()
    mirror.close()


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


@pytest.fixture
def live_api(settings: Settings) -> Iterator[str]:
    """The API served by uvicorn on a free port (so that localstripe can call its webhook),
    with the real Celery queue: a worker does what the API enqueues."""
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                            log_config=None, access_log=False, lifespan="on")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(scope="session")
def celery_app(infra: Infrastructure) -> Any:
    return create_celery(infra.settings())


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server the worker delivers ticket mails to."""
    with running_mailbox() as box:
        yield box


@pytest.fixture(scope="session")
def worker(
    infra: Infrastructure,
    celery_app: Any,
    mailbox: Mailbox,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WorkerProcess]:
    log_path: Path = tmp_path_factory.mktemp("worker") / "worker.log"
    env = infra.environ(STREAMSVC_SMTP_HOST="127.0.0.1", STREAMSVC_SMTP_PORT=str(mailbox.port))
    process = WorkerProcess(env, log_path)
    process.start(celery_app)
    yield process
    process.stop()


@pytest.fixture
def shop(client: TestClient, clock: FixedClock) -> tuple[VenueHandle, dict[str, Any], str]:
    """A venue with a published event and one tier of 10 seats at 20.00."""
    venue = make_venue(client)
    event = published_event(client, venue, clock.now())
    tier = make_tier(client, venue, event["id"], name="Limited", capacity=10, price_amount=2000)
    return venue, event, tier["id"]
