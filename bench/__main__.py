"""Run the benchmarks against one production-configured server and report ratios.

    python -m bench [--duration SECONDS] [--connections N] [--orders N] [--rows N] [names...]

A benchmark whose work was not done, or not done right (a refused request, a check
that fails after timing), is refused: it writes no figure, the others still run, and
the exit code is 1.

Every figure is compared with the ceiling (GET /healthz) measured in the same run,
on the same server, so the ratios hold from one machine to another. Benchmarks of
work no request does (`ledger`, `exports`) need only the database, and their ratio is
to a floor of the database's own, measured in the same run: run alone, no server
starts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import sys
import tempfile
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import commerce, exports, ledger, media, payout_run, soak, viewing
from bench.load import BenchmarkFailed, LoadResult, run_load
from bench.profile import Sampled
from bench.server import BenchWorker, ProductionServer
from streamsvc.migrate import upgrade
from tests.harness import TEST_STRIPE_KEY, TEST_WEBHOOK_SECRET, Infrastructure

RESULTS = Path(__file__).resolve().parent / "results"


Figure = tuple[str, LoadResult]  # a row of the table, and bench/results/<name>.json


class Context:
    def __init__(
        self, server: ProductionServer, duration: float, connections: int, env: dict[str, str]
    ) -> None:
        self.server = server
        self.duration = duration
        self.connections = connections
        self.env = env
        self._box: viewing.Box | None = None

    @property
    def box(self) -> viewing.Box:
        """A venue with an event whose doors are open, built on first use."""
        if self._box is None:
            self._box = viewing.Box(self.server.base_url, self.env["STREAMSVC_PLATFORM_KEY"])
        return self._box

    def load(
        self,
        path: str,
        header_sets: list[dict[str, str]] | None = None,
        base_url: str | None = None,
    ) -> LoadResult:
        return run_load(
            (base_url or self.server.base_url) + path,
            duration=self.duration,
            connections=self.connections,
            header_sets=header_sets,
        )


def ceiling(ctx: Context) -> LoadResult:
    """GET /healthz: the most the server answers; every other figure is a ratio to it."""
    return ctx.load("/healthz")


def order_burst(ctx: Context) -> LoadResult:
    return commerce.order_burst(
        ctx.server.base_url, ctx.env["STREAMSVC_PLATFORM_KEY"], ctx.env["STREAMSVC_STRIPE_API_BASE"]
    )


def webhook_ingest(ctx: Context) -> LoadResult:
    return commerce.webhook_ingest(ctx.server.base_url, ctx.env["STREAMSVC_DATABASE_URL"])


def authorize(ctx: Context) -> list[Figure]:
    """The hot path, loaded as the ceiling is (same tool, duration, connections, one
    header set a request), round-robin over thousands of sessions: once with the
    in-process cache as production runs it, once on a second server with it off."""
    crowd = ctx.box.crowd_headers(ctx.server.base_url)
    cached = ctx.load("/v1/viewing/authorize", crowd)
    off = {**ctx.env, CACHE_ENV: "0"}
    with ProductionServer(off, RESULTS / "server-uncached.log") as server:
        uncached = ctx.load("/v1/viewing/authorize", crowd, base_url=server.base_url)
    figures = {"sessions": len(crowd), "tickets": -(-len(crowd) // viewing.DEVICES)}
    cached.extra = {**figures, "authorize_cache_seconds": ctx.env.get(CACHE_ENV, "default (1)")}
    uncached.extra = {**figures, "authorize_cache_seconds": "0"}
    return [("authorize", cached), ("authorize_uncached", uncached)]


def session_start(ctx: Context) -> LoadResult:
    return viewing.session_start(ctx.box, ctx.server.base_url)


def revocation(ctx: Context) -> LoadResult:
    figures = viewing.revocation(ctx.box, ctx.server.base_url)
    return LoadResult("python", figures["revocations"], 0, 0.0, float("nan"),
                      figures["p50_ms"], figures["p99_ms"], {}, extra=figures)  # fmt: skip


def media_auth(ctx: Context) -> LoadResult:
    return media.run(ctx.box, ctx.server.base_url, ctx.duration, ctx.connections)


def catalogue_pages(ctx: Context) -> list[Figure]:
    """The audience's catalogue and an event page, as an on-sale rush loads them: from
    the per-node cache as production runs it, and the event page once more on a
    second server with the cache off (a PostgreSQL load per view)."""
    html = [{"Accept": "text/html", "Accept-Language": "nl"}]
    event_path = f"/events/{ctx.box.event['id']}"
    catalogue = ctx.load("/", html)
    event = ctx.load(event_path, html)
    off = {**ctx.env, CATALOGUE_CACHE_ENV: "0"}
    with ProductionServer(off, RESULTS / "server-catalogue-uncached.log") as server:
        uncached = ctx.load(event_path, html, base_url=server.base_url)
    for figure in (catalogue, event, uncached):
        figure.require_success("a catalogue page")
    uncached.extra = {"catalogue_cache_seconds": "0"}
    return [("catalogue_page", catalogue), ("event_page", event),
            ("event_page_uncached", uncached)]  # fmt: skip


BENCHMARKS: dict[str, Callable[[Context], LoadResult | list[Figure]]] = {
    "ceiling": ceiling,
    "authorize": authorize,
    "session_start": session_start,
    "revocation": revocation,
    "order_burst": order_burst,
    "webhook_ingest": webhook_ingest,
    "catalogue_pages": catalogue_pages,
    "media_auth": media_auth,
}
# What each benchmark writes, where it writes more than its own name.
WRITES = {
    "authorize": ("authorize", "authorize_uncached"),
    "catalogue_pages": ("catalogue_page", "event_page", "event_page_uncached"),
}
CACHE_ENV = "STREAMSVC_VIEWING_AUTHORIZE_CACHE_SECONDS"
CATALOGUE_CACHE_ENV = "STREAMSVC_CATALOGUE_CACHE_SECONDS"


def ledger_reconcile(database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    return ledger.run(database_url, ledger.orders_wanted(args.orders))


def split_exports(database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    return exports.run(database_url, exports.rows_wanted(args.rows))


def payout_run_bench(database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    return payout_run.run(database_url, payout_run.parties_wanted())


# Benchmarks that need a database server and no API server.
DATABASE_BENCHMARKS: dict[str, Callable[[str, argparse.Namespace], dict[str, Any]]] = {
    "ledger": ledger_reconcile,
    "exports": split_exports,
    "payout_run": payout_run_bench,
}
# Benchmarks that start the scaled-out topology of their own (bench/soak.py).
TOPOLOGY_BENCHMARKS = ("soak",)
# Their figures in the table: the timed seconds, the floor's seconds, their ratio.
FLOOR_FIGURES = {
    "ledger": ("reconcile_seconds", "copy_floor_seconds", "ratio_to_copy_floor"),
    "exports": ("export_seconds", "copy_seconds", "ratio_to_copy"),
    "payout_run": ("run_seconds", "floor_seconds", "ratio_to_floor"),
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*",
                        default=[*BENCHMARKS, *DATABASE_BENCHMARKS, *TOPOLOGY_BENCHMARKS])  # fmt: skip
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--orders", type=int, default=None,
                        help=f"ledger: paid orders (default ${ledger.ORDERS_ENV} or "
                             f"{ledger.DEFAULT_ORDERS})")  # fmt: skip
    parser.add_argument("--rows", type=int, default=None,
                        help=f"exports: split rows (default ${exports.ROWS_ENV} or "
                             f"{exports.DEFAULT_ROWS})")  # fmt: skip
    parser.add_argument(
        "--soak-seconds",
        type=float,
        default=90.0,
        help="soak: how long the mixed traffic runs (600 for the full soak)",
    )
    parser.add_argument("--soak-rate", type=float, default=30.0, help="soak: operations a second")
    parser.add_argument("--profile", action="store_true",
                        help="sample the server and worker with py-spy during each served "
                             "benchmark: bench/results/profile-<name>.txt")  # fmt: skip
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(BENCHMARKS) - set(DATABASE_BENCHMARKS)
                     - set(TOPOLOGY_BENCHMARKS))  # fmt: skip
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)}")
    served = [name for name in args.names if name in BENCHMARKS]

    # A stale figure must not outlive a run that refused it.
    for name in args.names:
        for written in WRITES.get(name, (name,)):
            (RESULTS / f"{written}.json").unlink(missing_ok=True)
    infra = Infrastructure.resolve()
    RESULTS.mkdir(exist_ok=True)
    rows: list[tuple[str, LoadResult, float | None]] = []
    records: list[dict[str, Any]] = []
    failed: list[str] = []
    try:
        if served:
            rows = _served(infra, served, args, failed)
        for name in args.names:
            if name in DATABASE_BENCHMARKS:
                try:
                    figures = DATABASE_BENCHMARKS[name](infra.database_url, args)
                except Exception as exc:  # refused; the others still run
                    _refused(name, exc, failed)
                    continue
                record = {"name": name, **_measured(), **figures}
                (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
                records.append(record)
        if "soak" in args.names:
            _soak(infra, args, failed)
    finally:
        infra.close()
    if rows:
        _print_table(rows)
    if records:
        _print_floor_table(records)
    if failed:
        print(f"REFUSED (no figure written): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _soak(infra: Infrastructure, args: argparse.Namespace, failed: list[str]) -> None:
    try:
        figures = soak.run(infra, _production_secrets(), duration=args.soak_seconds,
                           rate=args.soak_rate)  # fmt: skip
    except Exception as exc:  # refused; the others ran
        _refused("soak", exc, failed)
        return
    record = {"name": "soak", **_measured(), **figures}
    (RESULTS / "soak.json").write_text(json.dumps(record, indent=2) + "\n")
    _print_soak(figures)


def _print_soak(figures: dict[str, Any]) -> None:
    print(f"soak: {figures['operations']} operations in {figures['duration_s']} s, "
          f"errors {figures['errors']}, faults: {'; '.join(figures['faults']) or 'none'}")  # fmt: skip
    for route, stats in figures["routes"].items():
        print(
            f"  {route:<10}{stats['count']:>8}{stats['p50_ms']:>10.1f}{stats['p99_ms']:>10.1f} ms"
        )
    first, last = figures["samples"][0], figures["samples"][-1]
    print(f"  rss MiB first {first['rss_mib']}\n  rss MiB last  {last['rss_mib']}")
    print(f"  checks: {figures['checks']}")


def _refused(name: str, exc: BaseException, failed: list[str]) -> None:
    failed.append(name)
    if isinstance(exc, BenchmarkFailed):
        print(f"bench {name}: REFUSED: {exc}", file=sys.stderr, flush=True)
    else:  # not a failed check but a crash: show where
        print(f"bench {name}: REFUSED, it crashed:", file=sys.stderr)
        traceback.print_exception(exc)


def _served(
    infra: Infrastructure, names: list[str], args: argparse.Namespace, failed: list[str]
) -> list[tuple[str, LoadResult, float | None]]:
    rows: list[tuple[str, LoadResult, float | None]] = []
    upgrade(infra.database_url)
    with tempfile.TemporaryDirectory(prefix="bench-data-") as data_dir:
        # Ticket mails go to DATA_DIR/outbox (no SMTP host): a scratch directory.
        env = infra.environ(STREAMSVC_ENV="production", STREAMSVC_DATA_DIR=data_dir,
                            **_production_secrets())  # fmt: skip
        with (
            ProductionServer(env, RESULTS / "server.log") as server,
            BenchWorker(env, RESULTS / "worker.log") as worker,
        ):
            ctx = Context(server, args.duration, args.connections, env)
            try:
                base = ceiling(ctx)
            except Exception as exc:  # every ratio needs it
                for name in names:
                    _refused(name, exc, failed)
                return rows
            try:
                for name in names:
                    try:
                        with _sampled(args, name, server, worker):
                            outcome = base if name == "ceiling" else BENCHMARKS[name](ctx)
                    except Exception as exc:  # refused; the others still run
                        _refused(name, exc, failed)
                        continue
                    for written, result in (
                        outcome if isinstance(outcome, list) else [(name, outcome)]
                    ):
                        rps = result.requests_per_second
                        ratio = None if math.isnan(rps) else rps / base.requests_per_second
                        rows.append((written, result, ratio))
                        _write(written, result=result, ratio=ratio, base=base,
                               workers=server.workers, args=args)  # fmt: skip
            finally:
                if ctx._box is not None:
                    ctx._box.close()
    return rows


def _sampled(
    args: argparse.Namespace, name: str, server: ProductionServer, worker: BenchWorker
) -> contextlib.AbstractContextManager[object]:
    if not args.profile or name == "ceiling":
        return contextlib.nullcontext()
    return Sampled(name, {"api": server.pid, "worker": worker.pid}, RESULTS)


def _production_secrets() -> dict[str, str]:
    """Throwaway secrets so the server runs with STREAMSVC_ENV=production checks on."""
    secret = os.urandom(24).hex()
    return {
        # localstripe from the test harness; buyers all come from 127.0.0.1
        "STREAMSVC_STRIPE_API_KEY": TEST_STRIPE_KEY,
        "STREAMSVC_STRIPE_WEBHOOK_SECRETS": TEST_WEBHOOK_SECRET,
        "STREAMSVC_ORDER_RATE_PER_IP": "100000000",
        "STREAMSVC_ORDER_RATE_PER_EMAIL": "100000000",
        "STREAMSVC_TOKEN_KEYS": f"bench:{secret}",
        "STREAMSVC_TOKEN_SIGNING_KEY_ID": "bench",
        "STREAMSVC_PLATFORM_KEY": secret,
        "STREAMSVC_LOG_LEVEL": "WARNING",
    }


def _write(
    name: str,
    *,
    result: LoadResult,
    ratio: float | None,
    base: LoadResult,
    workers: int,
    args: argparse.Namespace,
) -> None:
    record: dict[str, Any] = {
        "name": name,
        **_measured(),
        "server": {"uvicorn_workers": workers, "env": "production"},
        "connections": args.connections,
        # NaN is not JSON: a benchmark with no rate (revocation) writes null.
        **{
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in result.as_dict().items()
        },
        "ratio_to_ceiling": round(ratio, 3) if ratio is not None else None,
        "ceiling_requests_per_second": round(base.requests_per_second, 1),
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")


def _print_table(rows: list[tuple[str, LoadResult, float | None]]) -> None:
    header = f"{'benchmark':<22}{'req/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'ratio':>8}  tool"
    print(header)
    print("-" * len(header))
    for name, r, ratio in rows:
        print(
            f"{name:<22}{r.requests_per_second:>12.1f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}"
            f"{ratio if ratio is not None else float('nan'):>8.3f}  {r.tool}"
        )
    print(f"results: {RESULTS}/<name>.json")


def _measured() -> dict[str, Any]:
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


def _print_floor_table(records: list[dict[str, Any]]) -> None:
    """Database benchmarks: wall time against the database's floor, and peak RSS."""
    header = f"{'benchmark':<22}{'seconds':>12}{'floor s':>10}{'RSS MiB':>10}{'ratio':>8}  goals"
    print(header)
    print("-" * len(header))
    for r in records:
        met = "met" if all(r["met"].values()) else "missed: " + ", ".join(
            name for name, ok in r["met"].items() if not ok)  # fmt: skip
        seconds, floor, ratio = (r[key] for key in FLOOR_FIGURES[r["name"]])
        print(
            f"{r['name']:<22}{seconds:>12.2f}{floor:>10.2f}"
            f"{r['peak_rss_mib']:>10.1f}{ratio:>8.3f}  {met}"
        )
    print(f"results: {RESULTS}/<name>.json")


if __name__ == "__main__":
    raise SystemExit(main())
