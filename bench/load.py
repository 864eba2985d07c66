"""Load generators: wrk when installed, else a Python one, both in another process.

Both open `connections` keep-alive connections for `duration` seconds, send GET
requests whose headers cycle round-robin through the header sets given (one set for
the ceiling, thousands of tokens for authorize: the same per-request work in the
generator either way), and report requests/s and latency percentiles. A socket
error, a timeout or any answer outside 2xx fails the run: a rate of refusals is not
a figure of the work it claims.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from queue import Empty
from typing import Any
from urllib.parse import urlsplit


class BenchmarkFailed(Exception):
    """The work a figure would claim was not done, or not done right: no figure."""


@dataclass
class Answer:
    status: int
    body: bytes


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
    # run_requests: each request's answer, in order, for the benchmark's checks
    answers: list[Answer | None] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "answers"}
        data.update(data.pop("extra"))
        return data

    def require_success(self, what: str) -> None:
        """Refuse the figure unless every request was answered, and answered 2xx."""
        failed = {k: v for k, v in self.statuses.items() if not k.startswith("2") and v}
        if self.requests == 0 or self.errors or failed:
            raise BenchmarkFailed(
                f"{what}: {self.requests} answered, {self.errors} socket errors or timeouts, "
                f"answers outside 2xx: {failed or 'none'}"
            )


# One request per header set, pre-formatted at init; request() hands them out in
# turn. response() counts what is not 2xx (wrk itself counts only >= 400), and
# done() sums the threads' counts with wrk's socket errors.
_WRK_SCRIPT = """
local requests, counter, threads = {}, 0, {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  local file = assert(io.open(args[1]))
  for line in file:lines() do
    local headers = {}
    for name, value in line:gmatch("([^\\t]+)\\t([^\\t]+)") do headers[name] = value end
    table.insert(requests, wrk.format("GET", nil, headers))
  end
  file:close()
  non2xx = 0
end
function request()
  counter = counter % #requests + 1
  return requests[counter]
end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non2xx") end
  local e = summary.errors
  io.write(string.format("P50 %f\\nP99 %f\\n", latency:percentile(50), latency:percentile(99)))
  io.write(string.format("SOCKET %d\\nNON2XX %d\\n", e.connect + e.read + e.write + e.timeout, bad))
end
"""


def _figure(pattern: str, out: str) -> str:
    found = re.search(pattern, out, re.M)
    if found is None:
        raise BenchmarkFailed(f"wrk printed no {pattern!r}:\n{out}")
    return found.group(1)


def _wrk(
    url: str, duration: float, connections: int, header_sets: list[dict[str, str]]
) -> LoadResult:
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as scratch:
        script, requests = Path(scratch) / "cycle.lua", Path(scratch) / "requests.tsv"
        script.write_text(_WRK_SCRIPT)
        requests.write_text(
            "".join("\t".join(f"{k}\t{v}" for k, v in h.items()) + "\n" for h in header_sets)
        )
        args = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{max(1, round(duration))}s",
                "--latency", "-s", str(script), url, "--", str(requests)]  # fmt: skip
        done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchmarkFailed(f"wrk exited {done.returncode}: {done.stderr.strip()}")
    out = done.stdout
    requests_done = int(_figure(r"(\d+) requests in", out))
    bad = int(_figure(r"^NON2XX (\d+)", out))
    return LoadResult(
        "wrk", requests_done, int(_figure(r"^SOCKET (\d+)", out)), duration,
        float(_figure(r"Requests/sec:\s+([\d.]+)", out)),
        float(_figure(r"^P50 ([\d.]+)", out)) / 1000, float(_figure(r"^P99 ([\d.]+)", out)) / 1000,
        {"2xx": requests_done - bad, "non_2xx": bad},
    )  # fmt: skip


async def _python_load(
    url: str, duration: float, connections: int, header_sets: list[dict[str, str]]
) -> tuple[list[float], dict[str, int], int]:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    requests = [
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"{''.join(f'{k}: {v}{chr(13)}{chr(10)}' for k, v in headers.items())}\r\n".encode()
        for headers in header_sets
    ]
    turn = itertools.cycle(requests)  # one event loop: connections share the rotation
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    deadline = time.perf_counter() + duration

    async def one_connection() -> None:
        nonlocal errors
        try:
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        except OSError:
            errors += 1
            return
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(next(turn))
                status_line = await asyncio.wait_for(reader.readline(), timeout=2)
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                status = status_line.split(b" ")[1].decode()
                statuses[status] = statuses.get(status, 0) + 1
        except (OSError, asyncio.IncompleteReadError, TimeoutError, IndexError):
            errors += 1  # as wrk's read error / timeout: the run is refused
        finally:
            writer.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return latencies, statuses, errors


def _python_worker(args: tuple[str, float, int, list[dict[str, str]]], queue: Any) -> None:
    queue.put(asyncio.run(_python_load(*args)))


def _python(
    url: str, duration: float, connections: int, header_sets: list[dict[str, str]]
) -> LoadResult:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(
        target=_python_worker, args=((url, duration, connections, header_sets), queue)
    )
    process.start()
    latencies, statuses, errors = queue.get(timeout=duration + 60)
    process.join()
    latencies.sort()
    count = len(latencies)
    return LoadResult(
        "python", count, errors, duration, count / duration,
        percentile(latencies, 0.50) * 1000, percentile(latencies, 0.99) * 1000, statuses,
    )  # fmt: skip


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


async def _send_all(
    base_url: str, requests: list[Request], concurrency: int
) -> tuple[list[float], list[tuple[int, bytes] | None], float]:
    """Every request once, over `concurrency` keep-alive connections of raw HTTP/1.1
    (as wrk writes it: the generator's own cost stays small beside the server's)."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    wire = [
        (f"{r.method} {r.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
         f"Content-Length: {len(r.body)}\r\n"
         + "".join(f"{k}: {v}\r\n" for k, v in r.headers.items()) + "\r\n").encode() + r.body
        for r in requests
    ]  # fmt: skip
    latencies: list[float] = []
    answers: list[tuple[int, bytes] | None] = [None] * len(requests)
    turn = iter(range(len(requests)))  # one event loop: the connections share it

    async def connection() -> None:
        try:
            reader, writer = await asyncio.open_connection(host, port, limit=2**20)
        except OSError:
            return  # its requests go to the other connections, or stay unanswered
        try:
            for index in turn:
                started = time.perf_counter()
                writer.write(wire[index])
                status_line = await reader.readline()
                length, close = 0, False
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                    elif name.lower() == b"connection" and value.strip().lower() == b"close":
                        close = True
                    elif name.lower() == b"transfer-encoding":
                        raise ValueError("a chunked answer: not read here")
                body = await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                answers[index] = (int(status_line.split(b" ")[1]), body)
                if close:  # the server ends this connection: open another
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port, limit=2**20)
        except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
            pass  # this request stays unanswered: the benchmark refuses its figure
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(min(concurrency, len(requests)))))
    return latencies, answers, time.perf_counter() - started


def _send_all_worker(args: tuple[str, list[Request], int], queue: Any) -> None:
    queue.put(asyncio.run(_send_all(*args)))


def run_requests(base_url: str, requests: list[Request], concurrency: int) -> LoadResult:
    """Send these requests with `concurrency` at once, from another process; every
    latency is kept, and every answer, in the order of `requests`, as `answers`."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_send_all_worker, args=((base_url, requests, concurrency), queue))
    process.start()
    while True:  # a generator that died puts nothing: do not wait for it
        try:
            latencies, raw, elapsed = queue.get(timeout=1)
            break
        except Empty:
            if not process.is_alive():
                raise BenchmarkFailed(f"the load generator died ({process.exitcode})") from None
    process.join()
    answers = [None if a is None else Answer(*a) for a in raw]
    latencies.sort()
    statuses: dict[str, int] = {}
    for answer in answers:
        key = "unanswered" if answer is None else str(answer.status)
        statuses[key] = statuses.get(key, 0) + 1
    result = LoadResult(
        "python-raw", len(latencies), statuses.get("unanswered", 0), round(elapsed, 3),
        len(latencies) / elapsed, percentile(latencies, 0.5) * 1000,
        percentile(latencies, 0.99) * 1000, statuses,
    )  # fmt: skip
    result.answers = answers
    return result


def run_load(
    url: str, *, duration: float, connections: int, header_sets: list[dict[str, str]] | None = None
) -> LoadResult:
    """Load `url`; fails (BenchmarkFailed) on any socket error or answer outside 2xx."""
    sets = header_sets or [{}]
    if shutil.which("wrk"):
        result = _wrk(url, duration, connections, sets)
    else:
        result = _python(url, duration, connections, sets)
    result.require_success(url)
    return result
