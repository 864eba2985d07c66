"""A real Celery worker consumes the broker and records its heartbeat."""

from __future__ import annotations

import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.harness import WorkerProcess

pytestmark = pytest.mark.worker


def test_worker_heartbeat_shows_in_readyz(
    client: TestClient, celery_app: Any, worker: WorkerProcess
) -> None:
    assert client.get("/readyz").json()["checks"]["worker"]["status"] == "unseen"
    celery_app.send_task("ops.worker_heartbeat")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        worker_check = client.get("/readyz").json()["checks"]["worker"]
        if worker_check["status"] == "ok":
            break
        time.sleep(0.1)
    assert worker_check["status"] == "ok"
    assert worker_check["last_seen_seconds_ago"] < 30
