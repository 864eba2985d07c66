"""Load generators: wrk when installed, else a Python one, both in another process.

Both open `connections` keep-alive connections for `duration` seconds and report
requests/s and latency percentiles of answered requests.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    tool: str
    requests: int
    errors: int
    duration_s: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]
    extra: dict[str, Any] = field(default_factory=dict)  # a benchmark's own figures

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("extra"))
        return data


_WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("P50 %f\\nP99 %f\\n", latency:percentile(50), latency:percentile(99)))
  io.write(string.format("ERR %d\\n", summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.status + summary.errors.timeout))
end
"""


def _wrk(url: str, duration: float, connections: int, headers: dict[str, str]) -> LoadResult:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT)
    args = [
        "wrk",
        "-t",
        "1",
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(duration))}s",
        "-s",
        script.name,
    ]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = float(re.search(r"^P50 ([\d.]+)", out, re.M).group(1)) / 1000  # type: ignore[union-attr]
    p99 = float(re.search(r"^P99 ([\d.]+)", out, re.M).group(1)) / 1000  # type: ignore[union-attr]
    errors = int(re.search(r"^ERR (\d+)", out, re.M).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    statuses = {"non_2xx_3xx": int(non2xx.group(1))} if non2xx else {}
    return LoadResult("wrk", requests, errors, duration, rps, p50, p99, statuses)


async def _python_load(
    url: str, duration: float, connections: int, headers: dict[str, str]
) -> tuple[list[float], dict[str, int], int]:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n{extra}\r\n".encode()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    deadline = time.perf_counter() + duration

    async def one_connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(request)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                status = status_line.split(b" ")[1].decode()
                statuses[status] = statuses.get(status, 0) + 1
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return latencies, statuses, errors


def _python_worker(args: tuple[str, float, int, dict[str, str]], queue: Any) -> None:
    queue.put(asyncio.run(_python_load(*args)))


def _python(url: str, duration: float, connections: int, headers: dict[str, str]) -> LoadResult:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(
        target=_python_worker, args=((url, duration, connections, headers), queue)
    )
    process.start()
    latencies, statuses, errors = queue.get(timeout=duration + 60)
    process.join()
    latencies.sort()
    count = len(latencies)

    def pct(q: float) -> float:
        return latencies[min(count - 1, int(q * count))] * 1000 if count else float("nan")

    return LoadResult(
        "python", count, errors, duration, count / duration, pct(0.50), pct(0.99), statuses
    )


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


@dataclass
class Request:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]


async def _timed(
    base_url: str, requests: list[Request], concurrency: int
) -> tuple[list[float], dict[str, int], float]:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    queue: asyncio.Queue[Request] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                request = queue.get_nowait()
                started = time.perf_counter()
                response = await client.request(request.method, request.path,
                                                content=request.body, headers=request.headers)  # fmt: skip
                latencies.append(time.perf_counter() - started)
                key = str(response.status_code)
                statuses[key] = statuses.get(key, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, statuses, elapsed


def run_requests(base_url: str, requests: list[Request], concurrency: int) -> LoadResult:
    """Send these requests with `concurrency` at once; every latency is kept."""
    latencies, statuses, elapsed = asyncio.run(_timed(base_url, requests, concurrency))
    latencies.sort()
    return LoadResult(
        "python-async", len(latencies), 0, round(elapsed, 3), len(latencies) / elapsed,
        percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000, statuses,
    )  # fmt: skip


def run_load(
    url: str, *, duration: float, connections: int, headers: dict[str, str] | None = None
) -> LoadResult:
    if shutil.which("wrk"):
        return _wrk(url, duration, connections, headers or {})
    return _python(url, duration, connections, headers or {})
