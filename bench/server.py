"""The API served as in production (uvicorn, one worker per core) for the benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from streamsvc.embedded import free_port, stop_process


class ProductionServer:
    def __init__(self, env: dict[str, str], log_path: Path, workers: int | None = None) -> None:
        self.env = env
        self.log_path = log_path
        self.workers = workers or os.cpu_count() or 1
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """uvicorn's supervisor: its children are the API processes."""
        assert self.process is not None, "not started"
        return self.process.pid

    def __enter__(self) -> ProductionServer:
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamsvc", "api", "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", str(self.workers)],
                env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base_url}/readyz", timeout=2):
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the API did not become ready; see {self.log_path}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=20)


class BenchWorker:
    """A real `streamsvc worker` (Celery) on the run's broker, configured as the API is:
    webhooks are only stored by the API, so whatever a benchmark says happened after
    one (a payment, a revocation) happened through this worker."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        from tests.harness import WorkerProcess

        self.env = env
        self.process = WorkerProcess(env, log_path)
        self.app: Any = None

    @property
    def pid(self) -> int:
        """Celery's main process: its children are the pool's processes."""
        process = self.process.process
        assert process is not None, "not started"
        return process.pid

    def __enter__(self) -> BenchWorker:
        from config.settings import Settings
        from workers.celery_app import create_celery

        settings = Settings(
            database_url=self.env["STREAMSVC_DATABASE_URL"],
            redis_url=self.env["STREAMSVC_REDIS_URL"],
            celery_broker_url=self.env["STREAMSVC_CELERY_BROKER_URL"],
        )
        self.app = create_celery(settings)
        self.process.start(self.app)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.process.stop()
