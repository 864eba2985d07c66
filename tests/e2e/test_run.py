"""`streamsvc run` (what `make run` calls) on a machine where nothing is configured."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from streamsvc.embedded import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(360)]


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class Run:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.log = data_dir.parent / f"run-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMSVC_")}
        env["STREAMSVC_DATA_DIR"] = str(data_dir)
        env["STREAMSVC_WORKER_HEARTBEAT_SECONDS"] = "2"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamsvc", "run", "--port", str(self.port)],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def wait_ready(self, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                status, body = _get(f"http://127.0.0.1:{self.port}/readyz")
            except OSError:
                time.sleep(0.3)
                continue
            if status == 200 and body["checks"]["worker"]["status"] == "ok":
                return body
            time.sleep(0.3)
        raise AssertionError(f"not ready: {body}\n{self.log.read_text()}")

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        return self.process.wait(timeout=60)


def _leftovers(data_dir: Path) -> list[str]:
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return [line for line in ps.stdout.splitlines() if str(data_dir) in line]


def test_run_starts_everything_embedded_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Run(data_dir)
    try:
        body = first.wait_ready()
        assert {body["checks"][n]["status"] for n in ("database", "redis", "broker")} == {"ok"}
        # Leave some data behind in both servers.
        pg = f"postgresql://postgres@/streamsvc?host={data_dir / 'postgres'}"
        with psycopg.connect(pg) as conn:
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
        cache = redis.Redis(unix_socket_path=str(data_dir / "redis" / "redis.sock"))
        cache.set("kept", "still here")
        cache.close()
    finally:
        assert first.interrupt() == 0
    output = first.log.read_text()
    assert "PAYMENTS ARE SIMULATED" in output
    assert f"http://127.0.0.1:{first.port}/docs" in output
    assert _leftovers(data_dir) == []

    second = Run(data_dir)
    try:
        second.wait_ready()
        with psycopg.connect(pg) as conn:
            assert conn.execute("SELECT v FROM kept").fetchone() == ("still here",)
        cache = redis.Redis(unix_socket_path=str(data_dir / "redis" / "redis.sock"))
        assert cache.get("kept") == b"still here"
        cache.close()
    finally:
        assert second.interrupt() == 0
    assert _leftovers(data_dir) == []
