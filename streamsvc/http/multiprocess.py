"""The directory through which a node's uvicorn workers share their metrics.

prometheus_client's multiprocess mode: with PROMETHEUS_MULTIPROC_DIR set when a worker
starts, every metric value is kept in a file of that worker's own in the directory
(`counter_<pid>.db`, `histogram_<pid>.db`) and a scrape reads them all
(streamsvc/http/metrics.py). The directory must hold this run's files only, so it is
emptied before the workers start. This module imports no prometheus_client: the
variable must be set before a worker imports it, and uvicorn's master never needs it.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"

log = logging.getLogger(__name__)


def emptied(directory: Path) -> Path:
    """`directory`, created if missing, without any metrics file of an earlier run (what
    the collector reads: every `*.db` in it). Other files are left alone."""
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.glob("*.db"):
        leftover.unlink(missing_ok=True)
    return directory


@contextmanager
def node_directory(workers: int) -> Iterator[Path | None]:
    """For the API processes about to start: the directory their metrics are summed
    through, set in this process's environment for the workers to inherit.

    - PROMETHEUS_MULTIPROC_DIR set by the operator: that directory, emptied now;
    - otherwise, with more than one worker: a fresh one of this run's own, removed
      after it (two nodes on one machine each have their own, so neither adds up or
      wipes the other's);
    - otherwise (one worker, in this process): none, and the metrics stay in memory.
    """
    given = os.environ.get(ENV)
    if given:
        yield emptied(Path(given))
        return
    if workers <= 1:
        yield None
        return
    directory = Path(tempfile.mkdtemp(prefix="streamsvc-metrics-"))
    os.environ[ENV] = str(directory)
    log.info("metrics of the %d API workers are summed through %s", workers, directory)
    try:
        yield directory
    finally:
        os.environ.pop(ENV, None)
        shutil.rmtree(directory, ignore_errors=True)
