"""`streamsvc run`: everything on one machine, embedded servers where nothing is set.

Starts (when unset) embedded PostgreSQL and Redis with data under
STREAMSVC_DATA_DIR, and localstripe when no Stripe key is set; applies migrations;
then runs the API, one Celery worker and Celery beat as child processes sharing
one environment. Ctrl-C (or SIGTERM) stops the children, then the servers.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from types import FrameType
from typing import Any

from config.settings import SIMULATED_STRIPE_KEY, Settings, load_settings
from streamsvc.embedded import (
    EmbeddedError,
    EmbeddedPostgres,
    EmbeddedRedis,
    LocalStripe,
    missing_servers,
    stop_process,
)
from streamsvc.migrate import upgrade

log = logging.getLogger("streamsvc.run")


class Supervisor:
    def __init__(self, settings: Settings, host: str, port: int, api_workers: int = 1) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.api_workers = api_workers
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._stopping = False

    def run(self) -> int:
        # Before starting anything: every server we would embed must be installed.
        needed = [
            server
            for server, configured in (
                ("PostgreSQL", self.settings.database_url),
                ("Redis", self.settings.redis_url),
                ("Stripe", self.settings.stripe_api_key),
            )
            if not configured
        ]
        message = missing_servers(needed)
        if message is not None:
            raise EmbeddedError(message)
        data_dir = self.settings.data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, STREAMSVC_DATA_DIR=str(data_dir))
        with ExitStack() as servers:
            if not self.settings.database_url:
                pg = EmbeddedPostgres(data_dir / "postgres")
                env["STREAMSVC_DATABASE_URL"] = pg.start()
                servers.callback(pg.stop)
                say(f"embedded PostgreSQL: data in {data_dir / 'postgres'}")
            if not self.settings.redis_url:
                redis = EmbeddedRedis(data_dir / "redis")
                env["STREAMSVC_REDIS_URL"] = redis.start()
                servers.callback(redis.stop)
                say(f"embedded Redis (also the Celery broker): data in {data_dir / 'redis'}")
            if self.settings.stripe_api_key is None:
                stripe = LocalStripe(log_path=data_dir / "localstripe.log")
                env["STREAMSVC_STRIPE_API_KEY"] = SIMULATED_STRIPE_KEY
                env["STREAMSVC_STRIPE_API_BASE"] = stripe.start()
                servers.callback(stripe.stop)
                secret = self.settings.stripe_webhook_secrets[0].get_secret_value()
                stripe.send_webhooks_to(f"http://{self.host}:{self.port}/v1/stripe/webhook", secret)
                say("!" * 72)
                say("!! PAYMENTS ARE SIMULATED: no STREAMSVC_STRIPE_API_KEY is set, so")
                say(f"!! localstripe at {stripe.url} stands in for Stripe. No money moves.")
                say("!" * 72)

            resolved = load_settings(**_overrides(env))
            upgrade(resolved.require("database_url"))
            say("database migrated")
            return self._supervise(env)

    def _supervise(self, env: dict[str, str]) -> int:
        exe = [sys.executable, "-m", "streamsvc"]
        commands = {
            "api": [*exe, "api", "--host", self.host, "--port", str(self.port),
                    "--workers", str(self.api_workers)],
            "worker": [*exe, "worker", "--concurrency", "2"],
            "beat": [*exe, "beat"],
        }  # fmt: skip
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        for sig in previous:
            signal.signal(sig, self._on_signal)
        try:
            for name, command in commands.items():
                # Own session: a terminal's Ctrl-C reaches us only, and we stop
                # the children in order before the servers they depend on.
                self.children[name] = subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603
            if self._wait_for_api():
                base = f"http://{self.host}:{self.port}"
                say(f"streamsvc is running: API {base}  docs {base}/docs  readiness {base}/readyz")
                say(
                    "next: .venv/bin/streamsvc venue create --name 'My Venue' --country NL "
                    "--currency EUR --timezone Europe/Amsterdam  (prints an admin key); "
                    "Ctrl-C stops all"
                )
            return self._watch()
        finally:
            self._stop_children()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def _wait_for_api(self, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        url = f"http://{self.host}:{self.port}/healthz"
        while time.monotonic() < deadline and not self._stopping:
            if any(child.poll() is not None for child in self.children.values()):
                return False
            try:
                with urllib.request.urlopen(url, timeout=1):
                    return True
            except OSError:
                time.sleep(0.2)
        return False

    def _watch(self) -> int:
        while not self._stopping:
            for name, child in self.children.items():
                if child.poll() is not None:
                    say(f"{name} exited with code {child.returncode}; stopping everything")
                    return 1
            time.sleep(0.3)
        say("stopping")
        return 0

    def _stop_children(self) -> None:
        for name in ("api", "beat", "worker"):
            child = self.children.get(name)
            if child is not None:
                stop_process(child, timeout=20)


def _overrides(env: dict[str, str]) -> dict[str, Any]:
    """The settings that `run` resolved, as keyword overrides for `load_settings`."""
    prefix = "STREAMSVC_"
    keys = ("DATABASE_URL", "REDIS_URL", "STRIPE_API_KEY", "STRIPE_API_BASE")
    return {key.lower(): env[prefix + key] for key in keys if prefix + key in env}


def say(message: str) -> None:
    print(f"streamsvc: {message}", flush=True)
