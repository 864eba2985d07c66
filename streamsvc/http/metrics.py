"""Prometheus metrics of the API: one process's, or a whole node's summed over its
uvicorn workers.

Without PROMETHEUS_MULTIPROC_DIR (one process) the metrics live in a registry of this
object's own (no global state), as they always did.

With it (`streamsvc api --workers N` sets it, streamsvc/http/multiprocess.py),
prometheus_client keeps every value in a file of the worker's own in that directory,
and `render` reads every file there into a registry built for the scrape: whichever
worker answers shows the node's sums (counters and histogram buckets add up). A worker
that exited leaves its files behind, and they keep counting in the sums: that is what
a counter's total means (the requests it answered happened), and it keeps the totals
from going down when uvicorn replaces a worker. prometheus_client's mark_process_dead
removes only the files of "live" gauges, and there are none here, so uvicorn having no
hook for a worker's exit loses nothing.

Figures that are the same whoever reads them (the business gauges, streamsvc/ops/
figures.py) are not metrics of a worker: they are read at each scrape by the process
that answers it and handed to `render`, never written to the files, so never summed.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from streamsvc.http import multiprocess

__all__ = ["CONTENT_TYPE_LATEST", "HttpMetrics"]


class HttpMetrics:
    def __init__(self) -> None:
        # prometheus_client chose how values are kept when it was first imported, from
        # the same variable: both must agree, or a node's sums would silently miss
        # this process.
        self.directory = os.environ.get(multiprocess.ENV) or None
        shared = bool(getattr(values.ValueClass, "_multiprocess", False))
        if shared and self.directory is None:
            raise RuntimeError(f"prometheus_client is in multiprocess mode, but {multiprocess.ENV} "
                               "names no directory")  # fmt: skip
        if self.directory is not None and not shared:
            raise RuntimeError(f"{multiprocess.ENV} was set after prometheus_client was imported: "
                               "set it before the process starts")  # fmt: skip
        # In multiprocess mode the values are read from the files, not from a registry.
        self.registry = None if shared else CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "streamsvc_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "streamsvc_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.scrape_errors = Counter(
            "streamsvc_metrics_scrape_errors",
            "Scrapes that left a business gauge out, its database or Redis not answering.",
            ["gauge"],
            registry=self.registry,
        )
        # Each label set's two children, looked up once: `labels()` costs more than the
        # increments themselves, which in multiprocess mode also write to the file.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def scrape_failed(self, gauge: str) -> None:
        """A scrape left `gauge` out (e.g. "viewers_watching")."""
        self.scrape_errors.labels(gauge).inc()

    def render(self, *figures: Collector) -> bytes:
        """The request metrics (this process's, or the node's sums), then `figures`."""
        registry = CollectorRegistry()
        if self.directory is not None:
            MultiProcessCollector(registry, path=self.directory)  # type: ignore[no-untyped-call]
        else:
            assert self.registry is not None
            registry.register(self.registry)
        for collector in figures:
            registry.register(collector)
        return generate_latest(registry)
