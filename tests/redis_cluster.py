"""A real Redis Cluster of three masters for the tests that need one (Debian's
`redis-server` in cluster mode, created with `redis-cli --cluster create`).

`redis_cluster` is a module-scoped fixture: import it into a test module and its tests
share one cluster, started in a temporary directory and stopped after the module.
Skipped only where redis-server or redis-cli is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from streamsvc.embedded import free_port, stop_process

MASTERS = 3


@dataclass
class RedisCluster:
    """The running cluster: `url` names one node, as STREAMSVC_REDIS_URL would."""

    ports: list[int]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}"

    def node_urls(self) -> list[str]:
        return [f"redis://127.0.0.1:{port}" for port in self.ports]

    def flush(self) -> None:
        """Every master forgets every key (FLUSHDB only reaches the node it is sent to)."""
        for url in self.node_urls():
            with redis.Redis.from_url(url) as node:
                node.flushall()

    def stop(self) -> None:
        for process in self.processes:
            stop_process(process, timeout=10)


def cluster_state(port: int) -> str:
    """What the node on `port` says of the cluster: ok, fail, or unreachable."""
    try:
        with redis.Redis(port=port, socket_connect_timeout=1) as node:
            info = node.cluster("INFO")  # parsed into a dict by redis-py
    except redis.RedisError:
        return "unreachable"
    return str(info.get("cluster_state"))


def _cluster_ok(port: int) -> bool:
    return cluster_state(port) == "ok"


def start_cluster(directory: Path, masters: int = MASTERS, timeout: float = 30) -> RedisCluster:
    """Start `masters` nodes in `directory` and join them into one cluster (no replicas)."""
    directory.mkdir(parents=True, exist_ok=True)
    cluster = RedisCluster(ports=[free_port() for _ in range(masters)])
    try:
        for port in cluster.ports:
            node_dir = directory / str(port)
            node_dir.mkdir()
            with open(node_dir / "redis.log", "ab") as log:
                cluster.processes.append(subprocess.Popen(
                    ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                     # The bus port is chosen free too: port + 10000 may be taken or past 65535.
                     "--cluster-port", str(free_port()),
                     "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                     "--cluster-node-timeout", "2000", "--dir", str(node_dir),
                     "--save", "", "--appendonly", "no", "--daemonize", "no"],
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                ))  # fmt: skip
        deadline = time.monotonic() + timeout
        for port in cluster.ports:
            while not _answers(port):
                assert time.monotonic() < deadline, f"redis-server on {port} did not start"
                time.sleep(0.05)
        created = subprocess.run(
            ["redis-cli", "--cluster", "create",
             *(f"127.0.0.1:{port}" for port in cluster.ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, timeout=timeout, check=False,
        )  # fmt: skip
        assert created.returncode == 0, created.stdout.decode() + created.stderr.decode()
        for port in cluster.ports:
            while not _cluster_ok(port):
                assert time.monotonic() < deadline, f"node {port} never saw cluster_state:ok"
                time.sleep(0.05)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _answers(port: int) -> bool:
    try:
        with redis.Redis(port=port, socket_connect_timeout=1) as node:
            return bool(node.ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server and redis-cli are needed to start a Redis Cluster")
    directory = tmp_path_factory.mktemp("redis-cluster")
    cluster = start_cluster(directory)
    yield cluster
    cluster.stop()
    shutil.rmtree(directory, ignore_errors=True)
