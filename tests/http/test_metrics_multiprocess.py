"""/metrics summed over a node's uvicorn workers (prometheus_client's multiprocess mode).

The mode is chosen when prometheus_client is first imported, so every process that
writes or renders in it here is a process of its own, started with
PROMETHEUS_MULTIPROC_DIR set; this test process stays in single-process mode.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from streamsvc.embedded import free_port, stop_process, wait_for_port
from streamsvc.http import multiprocess
from streamsvc.http.metrics import HttpMetrics
from tests.harness import Infrastructure

# A worker: answers `count` GETs of /healthz and one POST taking `seconds`, then exits.
_WORKER = """
import sys
from streamsvc.http.metrics import HttpMetrics
metrics = HttpMetrics()
for _ in range(int(sys.argv[1])):
    metrics.observe("GET", "/healthz", 200, 0.003)
metrics.observe("POST", "/v1/events/{event_id}/orders", 201, float(sys.argv[2]))
"""
# Whichever worker answers a scrape: renders the files, and a business gauge of its own.
_SCRAPE = """
import sys
from prometheus_client.core import GaugeMetricFamily
from streamsvc.http.metrics import HttpMetrics

class Backlog:
    def collect(self):
        yield GaugeMetricFamily("streamsvc_outbox_backlog", "pending", value=7)

sys.stdout.write(HttpMetrics().render(Backlog()).decode())
"""


def _python(script: str, directory: Path, *args: str) -> str:
    env = dict(os.environ, **{multiprocess.ENV: str(directory)})
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _samples(text: str) -> dict[str, float]:
    """Every sample line of a Prometheus text answer: "name{labels}" -> value."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            assert name not in found, f"{name} twice"
            found[name] = float(value)
    return found


def test_a_scrape_sums_every_workers_counters_and_histograms(tmp_path: Path) -> None:
    _python(_WORKER, tmp_path, "2", "0.2")
    _python(_WORKER, tmp_path, "3", "0.7")
    assert len(list(tmp_path.glob("counter_*.db"))) == 2  # a file per worker

    samples = _samples(_python(_SCRAPE, tmp_path))

    get = 'method="GET",route="/healthz"'
    post = 'method="POST",route="/v1/events/{event_id}/orders"'
    assert samples[f'streamsvc_http_requests_total{{{get},status="200"}}'] == 5
    assert samples[f'streamsvc_http_requests_total{{{post},status="201"}}'] == 2
    latency = "streamsvc_http_request_duration_seconds"
    assert samples[f"{latency}_count{{{post}}}"] == 2
    assert samples[f"{latency}_sum{{{post}}}"] == pytest.approx(0.9)
    assert samples[f'{latency}_bucket{{le="0.1",{post}}}'] == 0
    assert samples[f'{latency}_bucket{{le="0.25",{post}}}'] == 1  # the first worker's
    assert samples[f'{latency}_bucket{{le="1.0",{post}}}'] == 2
    assert samples[f"{latency}_count{{{get}}}"] == 5
    # Read by the answering process alone, never from the files: once, as it read it.
    assert samples["streamsvc_outbox_backlog"] == 7


def test_without_the_variable_the_metrics_stay_in_the_process(tmp_path: Path) -> None:
    assert multiprocess.ENV not in os.environ
    metrics = HttpMetrics()
    metrics.observe("GET", "/healthz", 200, 0.003)
    metrics.scrape_failed("outbox_backlog")
    samples = _samples(metrics.render().decode())
    assert samples['streamsvc_http_requests_total{method="GET",route="/healthz",status="200"}'] == 1
    assert samples['streamsvc_metrics_scrape_errors_total{gauge="outbox_backlog"}'] == 1
    assert metrics.directory is None


def test_the_variable_set_after_prometheus_client_was_imported_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This process imported prometheus_client in single-process mode: its values would
    # never reach the directory, and the node's sums would silently miss it.
    monkeypatch.setenv(multiprocess.ENV, str(tmp_path))
    with pytest.raises(RuntimeError, match="set it before the process starts"):
        HttpMetrics()


def test_the_directory_the_operator_names_is_emptied_of_an_earlier_runs_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_4242.db").write_bytes(b"earlier")
    (directory / "histogram_4242.db").write_bytes(b"earlier")
    (directory / "README").write_text("the operator's")
    monkeypatch.setenv(multiprocess.ENV, str(directory))
    with multiprocess.node_directory(workers=4) as used:
        assert used == directory
        assert sorted(p.name for p in directory.iterdir()) == ["README"]
    assert directory.is_dir()  # the operator's: kept
    assert os.environ[multiprocess.ENV] == str(directory)


def test_several_workers_get_a_fresh_directory_of_their_run_removed_after_it() -> None:
    assert multiprocess.ENV not in os.environ
    with multiprocess.node_directory(workers=2) as used:
        assert used is not None and used.is_dir() and list(used.iterdir()) == []
        assert os.environ[multiprocess.ENV] == str(used)
    assert not used.exists()
    assert multiprocess.ENV not in os.environ


def test_one_worker_keeps_its_metrics_in_memory() -> None:
    with multiprocess.node_directory(workers=1) as used:
        assert used is None
        assert multiprocess.ENV not in os.environ


# -- the real service: `streamsvc api --workers 2` --------------------------------------


class Node:
    """`streamsvc api --workers 2` on a free port, sharing the test servers."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamsvc", "api", "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", "2"],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            wait_for_port(self.port, self.process, timeout=60)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> int:
        stop_process(self.process, timeout=30)
        return self.process.returncode

    def healthz(self, times: int) -> None:
        """`times` GETs, each on a connection of its own, eight at once: the kernel hands
        the connections to both workers."""

        def one(_: int) -> None:
            assert httpx.get(f"{self.base}/healthz", timeout=10).status_code == 200

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(times)))

    def healthz_counted(self, expected: int) -> float:
        """The node's count of answered /healthz, once it reaches `expected` (a worker
        counts a request just after answering it) or after 10 s."""
        deadline = time.monotonic() + 10
        while True:
            samples = _samples(httpx.get(f"{self.base}/metrics", timeout=10).text)
            key = 'streamsvc_http_requests_total{method="GET",route="/healthz",status="200"}'
            counted = samples.get(key, 0.0)
            if counted >= expected or time.monotonic() > deadline:
                return counted
            time.sleep(0.1)


def _pids(directory: Path) -> set[str]:
    return {p.stem.removeprefix("counter_") for p in directory.glob("counter_*.db")}


def _answered_by_both(node: Node, directory: Path) -> int:
    """Send /healthz until both workers answered some; how many were sent."""
    sent = 0
    while len(_pids(directory)) < 2:
        assert sent < 2000, f"one worker answered {sent} requests: {node.log.read_text()}"
        node.healthz(20)
        sent += 20
    return sent


@pytest.fixture
def node_env(infra: Infrastructure, clean_state: None) -> Iterator[dict[str, str]]:
    yield infra.environ(STREAMSVC_LOG_LEVEL="INFO")


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_two_uvicorn_workers_answer_metrics_as_one_node(
    node_env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "api.log"
    node = Node(node_env, log)
    try:
        found = re.search(r"summed through (\S+)", log.read_text())
        assert found, log.read_text()
        directory = Path(found.group(1))
        sent = _answered_by_both(node, directory)
        # Whichever worker answers the scrape counts every request of both.
        assert node.healthz_counted(sent) == sent
        node.healthz(10)
        assert node.healthz_counted(sent + 10) == sent + 10
    finally:
        assert node.stop() == 0, log.read_text()
    assert not directory.exists()  # this run's own: removed with it


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_a_named_directory_starts_empty_so_an_earlier_run_does_not_count(
    node_env: dict[str, str], tmp_path: Path
) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    _python(_WORKER, directory, "1000", "0.1")  # an earlier run's worker left its file
    log = tmp_path / "api.log"
    node = Node({**node_env, multiprocess.ENV: str(directory)}, log)
    try:
        sent = _answered_by_both(node, directory)
        assert node.healthz_counted(sent) == sent
    finally:
        assert node.stop() == 0, log.read_text()
    assert directory.is_dir()
