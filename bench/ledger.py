"""Benchmark of reconciling and splitting an event of a million paid orders.

ledger: `post_and_split` (post every stored balance transaction to the ledger, split
  the event, check the ledger against Stripe's figures) over N paid orders, 5 % of
  them partially refunded and 0.2 % disputed (half of those won), their balance
  transactions pre-loaded so that Stripe's API is not what is measured. Reported:
  the wall time, the peak RSS of the process that runs it, and the ratio of that time
  to what PostgreSQL needs to COPY the same ledger rows into tables with the same
  columns and indexes (the database's bulk-write floor, measured in the same run on
  the same server). Goal: at most 3x the floor and under 1 GiB RSS. After timing the
  ledger is checked, by streamsvc's own statement and by the bench's own computation
  of the plan's money (bench/ledger_check.py); a difference refuses the figure.

Everything runs in a scratch database of its own, dropped afterwards. Pre-loading is
set-based SQL, so this process stays small; the timed part runs in a fresh child
process (`python -m bench.ledger URL EVENT_ID`) whose own peak RSS is the figure.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, LiteralString

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, func, select

from bench import ledger_check
from bench.load import BenchmarkFailed
from streamsvc.catalog.models import Event
from streamsvc.db import Database, make_engine, normalise_url
from streamsvc.finance.statement import statement
from streamsvc.ledger.models import ReconciliationFinding
from streamsvc.migrate import upgrade

DEFAULT_ORDERS = 1_000_000
ORDERS_ENV = "STREAMSVC_BENCH_LEDGER_ORDERS"
GOAL_RATIO, GOAL_RSS_MIB = 3.0, 1024
ROOT = Path(__file__).resolve().parent.parent

# (id, name, price incl. VAT, VAT rate in bps): the three tiers of the event.
TIERS = (("tier_bench_early", "Early", 2500, 900), ("tier_bench_stream", "Stream", 1500, 2100),
         ("tier_bench_vip", "VIP", 4500, 2100))  # fmt: skip
VENUE, EVENT = "ven_bench_ledger", "evt_bench_ledger"
PERFORMERS = ("prf_bench_one", "prf_bench_two", "prf_bench_three")
DISPUTE_FEE = 1500
# The split rule (version 1): 5 % platform fee, one cost, the venue and three performers.
PLATFORM_FEE_BPS, COSTS = 500, (500_000,)
SHARES = (("venue", VENUE, 4000), *(("performer", p, 2000) for p in PERFORMERS))
# The floor's tables: the ledger's columns and indexes, none of its triggers.
FLOOR_TABLES = (("bench_floor_transactions", "ledger_transactions"),
                ("bench_floor_entries", "ledger_entries"))  # fmt: skip


def orders_wanted(given: int | None) -> int:
    return given if given is not None else int(os.environ.get(ORDERS_ENV, DEFAULT_ORDERS))


def run(server_url: str, orders: int) -> dict[str, Any]:
    with scratch_database(server_url) as url:
        upgrade(url)
        return measure(url, orders)


def measure(url: str, orders: int) -> dict[str, Any]:
    with psycopg.connect(_libpq(url)) as conn:
        _say(f"pre-loading {orders} orders and their balance transactions")
        started = time.perf_counter()
        _catalogue(conn)
        _orders_and_balance_transactions(conn, orders)
        preload_seconds = time.perf_counter() - started
        balance_transactions = _scalar(
            conn, "SELECT count(*) FROM stripe_balance_transactions WHERE event_id = %s", EVENT
        )
        # Statistics for the planner, hint bits set and dirty pages flushed, so the
        # timed part pays neither for pre-loading nor for a stale plan.
        _settle(conn, "orders", "order_items", "stripe_balance_transactions")

        _say("post_and_split (timed, in a child process)")
        child = _post_and_split_in_child(url)

        triggers = trigger_seconds(conn)
        ledger_transactions = _scalar(
            conn, "SELECT count(*) FROM ledger_transactions WHERE event_id = %s", EVENT
        )
        ledger_entries = _scalar(conn, """
            SELECT count(*) FROM ledger_entries e
              JOIN ledger_transactions t ON t.id = e.transaction_id WHERE t.event_id = %s
        """, EVENT)  # fmt: skip
        _settle(conn, "ledger_transactions", "ledger_entries", "ledger_accounts")

        _say(f"COPY floor: {ledger_transactions} transactions, {ledger_entries} entries")
        copy_floor_seconds = _copy_floor(conn)

    checks = verify(url, balance_transactions, child["outcome"])
    _say("checking the ledger against the bench's own computation")
    independent = ledger_check.check(_libpq(url), orders, {
        "event": EVENT, "tiers": TIERS, "dispute_fee": DISPUTE_FEE,
        "platform_bps": PLATFORM_FEE_BPS, "costs": COSTS,
        "shares": [(f"{kind}:{party}", bps) for kind, party, bps in SHARES]})  # fmt: skip
    reconcile = float(child["seconds"])
    rss_mib = int(child["peak_rss_kib"]) / 1024
    ratio = reconcile / copy_floor_seconds
    return {
        "orders": orders,
        "balance_transactions": balance_transactions,
        "ledger_transactions": ledger_transactions,
        "ledger_entries": ledger_entries,
        "preload_seconds": round(preload_seconds, 2),
        "reconcile_seconds": round(reconcile, 2),
        "copy_floor_seconds": round(copy_floor_seconds, 2),
        "ratio_to_copy_floor": round(ratio, 3),
        "peak_rss_mib": round(rss_mib, 1),
        "trigger_seconds": triggers,
        # What the child held before post_and_split: the interpreter and its imports.
        "rss_before_mib": round(int(child["rss_before_kib"]) / 1024, 1),
        "goals": {"ratio_to_copy_floor_at_most": GOAL_RATIO, "peak_rss_mib_below": GOAL_RSS_MIB},
        "met": {"ratio": ratio <= GOAL_RATIO, "rss": rss_mib < GOAL_RSS_MIB},
        "outcome": child["outcome"],
        "checks": checks,
        "independent_checks": independent,
        "postgres": child["postgres"],
    }


# The scratch database ------------------------------------------------------------


def _libpq(url: str) -> str:
    return normalise_url(url).replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def scratch_database(server_url: str, label: str = "ledger") -> Iterator[str]:
    """A database of this run's own on the server, dropped afterwards (a million
    orders must not stay behind, nor meet the data of other benchmarks)."""
    name = f"streamsvc_bench_{label}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(_libpq(server_url), autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        # make_url keeps a unix socket's ?host= (embedded PostgreSQL) where it is
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(server_url), autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _scalar(conn: psycopg.Connection[Any], sql: LiteralString, *params: Any) -> int:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def _settle(conn: psycopg.Connection[Any], *tables: str) -> None:
    """VACUUM ANALYZE and CHECKPOINT: one phase's writes are not charged to the next."""
    conn.commit()
    conn.autocommit = True
    try:
        conn.execute(f"VACUUM (ANALYZE) {', '.join(tables)}".encode())
        # Not superuser (nor pg_checkpoint): the vacuum still settles most of it.
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")
    finally:
        conn.autocommit = False


def _say(message: str) -> None:
    print(f"ledger: {message}", file=sys.stderr, flush=True)


# Pre-loading, set-based ------------------------------------------------------------


def _catalogue(conn: psycopg.Connection[Any]) -> None:
    """One venue, one ended event, three tiers, three performers, split rule version 1."""
    now = datetime.now(UTC)
    starts = now - timedelta(days=2)
    conn.execute("""
        INSERT INTO venues (id, name, slug, country, currency, timezone, created_at)
        VALUES (%s, 'Bench hall', 'bench-ledger', 'NL', 'EUR', 'Europe/Amsterdam', %s)
    """, (VENUE, now - timedelta(days=60)))  # fmt: skip
    conn.execute("""
        INSERT INTO events (id, venue_id, title, description, starts_at, ends_at, timezone,
                            attendance_mode, currency, doors_open_minutes, replay_hours,
                            allowed_countries, playback, status, published_at, created_at,
                            updated_at)
        VALUES (%(e)s, %(v)s, 'A million tickets', '', %(s)s, %(s)s + interval '2 hours',
                'Europe/Amsterdam', 'online', 'EUR', 30, 48, '[]',
                'https://origin.example.org/live', 'ended', %(p)s, %(p)s, %(s)s)
    """, {"e": EVENT, "v": VENUE, "s": starts, "p": starts - timedelta(days=40)})  # fmt: skip
    for position, (tier_id, name, price, vat) in enumerate(TIERS):
        conn.execute("""
            INSERT INTO tiers (id, event_id, venue_id, name, price_amount, capacity, sold, held,
                               vat_rate_bps, quality, extras, in_venue, rewatch_hours,
                               max_devices, on_device_limit, position, created_at)
            VALUES (%s, %s, %s, %s, %s, NULL, 0, 0, %s, 'hd', '[]', false, 48, 2, 'refuse',
                    %s, %s)
        """, (tier_id, EVENT, VENUE, name, price, vat, position, starts))  # fmt: skip
    for position, performer in enumerate(PERFORMERS):
        conn.execute("""
            INSERT INTO performers (id, venue_id, name, email, created_at)
            VALUES (%s, %s, %s, %s, %s)
        """, (performer, VENUE, f"Performer {position + 1}", f"{performer}@example.org",
              starts))  # fmt: skip
        conn.execute("INSERT INTO event_performers (event_id, performer_id, position) "
                     "VALUES (%s, %s, %s)", (EVENT, performer, position))  # fmt: skip
    shares = [{"party": {"type": kind, "id": party}, "bps": bps} for kind, party, bps in SHARES]
    costs = [{"label": "stream production", "amount": amount, "currency": "EUR"}
             for amount in COSTS]  # fmt: skip
    conn.execute("""
        INSERT INTO split_rules (id, event_id, venue_id, version, platform_fee_bps, costs,
                                 shares, created_at)
        VALUES ('spr_bench_ledger', %s, %s, 1, %s, %s, %s, %s)
    """, (EVENT, VENUE, PLATFORM_FEE_BPS, json.dumps(costs), json.dumps(shares), starts))  # fmt: skip


# One row per order: what it bought and what happened to its money. Ids are md5-based
# like Stripe's and ours are random (index pages fill as they would), yet the same on
# every run. Partial refunds (i % 20 = 3) and disputes (i % 500 = 7) never overlap.
_PLAN = """
CREATE TEMP TABLE bench_plan ON COMMIT DROP AS
SELECT p.i, 'ord_' || substr(md5('order:' || p.i), 1, 20) AS order_id, t.id AS tier_id,
       p.quantity, t.price, t.vat, p.quantity * t.price AS total,
       CASE WHEN p.i %% 20 = 3 THEN p.quantity * t.price * (10 + p.i / 20 %% 41) / 100 END
           AS refund,
       p.i %% 500 = 7 AS disputed, p.i %% 1000 = 7 AS won,
       %(opened)s + make_interval(secs => p.i * 2592000.0 / %(n)s) AS sold_at
  FROM (SELECT i, i %% 3 AS tier, 1 + (i %% 4 = 0)::int AS quantity
          FROM generate_series(1, %(n)s) AS i) p
  JOIN (VALUES (0, %(t0)s, %(p0)s, %(v0)s), (1, %(t1)s, %(p1)s, %(v1)s),
               (2, %(t2)s, %(p2)s, %(v2)s)) AS t(position, id, price, vat)
    ON t.position = p.tier
"""

_ORDERS = """
INSERT INTO orders (id, venue_id, event_id, email, country, locale, status, capacity,
                    total_amount, currency, token_hash, payment_intent_id, split_rule_version,
                    paid_amount, refunded_amount, dispute_status, expires_at, paid_at,
                    tickets_mailed_at, created_at, updated_at)
SELECT order_id, %(venue)s, %(event)s, 'buyer' || i || '@example.org', 'NL', 'nl',
       CASE WHEN disputed AND NOT won THEN 'disputed'
            WHEN refund IS NOT NULL THEN 'partially_refunded' ELSE 'paid' END,
       'sold', total, 'EUR', md5(order_id) || md5(order_id || ':token'),
       'pi_' || substr(md5('intent:' || i), 1, 24), 1, total, coalesce(refund, 0),
       CASE WHEN won THEN 'won' WHEN disputed THEN 'lost' END,
       sold_at + interval '15 minutes', sold_at, sold_at, sold_at, sold_at
  FROM bench_plan
"""

_ITEMS = """
INSERT INTO order_items (id, order_id, tier_id, quantity, unit_amount, vat_rate_bps, position)
SELECT 'oit_' || substr(md5('item:' || i), 1, 20), order_id, tier_id, quantity, price, vat, 0
  FROM bench_plan
"""

# Stripe's balance transactions as collect.py stores them: the card fee (1.5 % + 25)
# on charges, none on refunds, the dispute fee on the withdrawal, none on the
# reinstatement of a won dispute. All available.
_BALANCE_TRANSACTIONS = """
INSERT INTO stripe_balance_transactions
       (id, venue_id, event_id, order_id, kind, source_id, amount, fee, net, currency,
        status, available_on, created, fetched_at)
SELECT 'txn_' || substr(md5(m.kind || ':' || p.i), 1, 24), %(venue)s, %(event)s, p.order_id,
       m.kind, m.source, m.amount, m.fee, m.amount - m.fee, 'EUR', 'available',
       p.sold_at + m.after + interval '2 days', p.sold_at + m.after, %(now)s
  FROM bench_plan p
 CROSS JOIN LATERAL (
       SELECT 'charge', 'ch_' || substr(md5('charge:' || p.i), 1, 24), p.total,
              25 + p.total * 15 / 1000, interval '0'
       UNION ALL
       SELECT 'refund', 're_' || substr(md5('refund:' || p.i), 1, 24), -p.refund, 0,
              interval '3 days'
        WHERE p.refund IS NOT NULL
       UNION ALL
       SELECT 'dispute', 'dp_' || substr(md5('dispute:' || p.i), 1, 24), -p.total,
              %(dispute_fee)s, interval '10 days'
        WHERE p.disputed
       UNION ALL
       SELECT 'dispute_reversal', 'dp_' || substr(md5('dispute:' || p.i), 1, 24), p.total, 0,
              interval '40 days'
        WHERE p.won
       ) AS m(kind, source, amount, fee, after)
"""


def _orders_and_balance_transactions(conn: psycopg.Connection[Any], orders: int) -> None:
    now = datetime.now(UTC)
    plan: dict[str, Any] = {"n": orders, "opened": now - timedelta(days=32)}
    for position, (tier_id, _, price, vat) in enumerate(TIERS):
        plan |= {f"t{position}": tier_id, f"p{position}": price, f"v{position}": vat}
    conn.execute(_PLAN, plan)
    context = {"venue": VENUE, "event": EVENT, "now": now, "dispute_fee": DISPUTE_FEE}
    conn.execute(_ORDERS, context)
    conn.execute(_ITEMS)
    conn.execute(_BALANCE_TRANSACTIONS, context)
    conn.execute("UPDATE tiers t SET sold = s.units FROM (SELECT tier_id, sum(quantity) AS units"
                 " FROM order_items GROUP BY tier_id) s WHERE s.tier_id = t.id")  # fmt: skip
    conn.commit()


# The timed part, in a child process ------------------------------------------------


def _post_and_split_in_child(url: str) -> dict[str, Any]:
    # The database's side of the profile: time in each trigger function (PL/pgSQL),
    # read back from pg_stat_user_functions once the child's sessions have ended.
    env = {
        **os.environ,
        "PGOPTIONS": os.environ.get("BENCH_PGOPTIONS", "") + " -c track_functions=pl",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench.ledger", url, EVENT],
        cwd=ROOT, capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchmarkFailed(f"ledger: post_and_split failed:\n{done.stderr}")
    # The last line: anything a library might print before it is not ours to parse.
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def child(url: str, event_id: str) -> dict[str, Any]:
    """Run post_and_split once, timed; with this process's peak RSS (KiB on Linux)."""
    from streamsvc.finance.reconciliation import post_and_split

    database = Database(make_engine(url, pool_size=2))
    with database.unit_of_work() as uow:  # connect before the clock starts
        version = str(uow.session.execute(text("SHOW server_version")).scalar())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    outcome = post_and_split(database, event_id, datetime.now(UTC), period="bench")
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    database.dispose()
    return {"seconds": seconds, "peak_rss_kib": peak, "rss_before_kib": before,
            "outcome": vars(outcome), "postgres": version}  # fmt: skip


# The floor --------------------------------------------------------------------------


def trigger_seconds(conn: psycopg.Connection[Any]) -> dict[str, float]:
    """Seconds spent in each PL/pgSQL function (the ledger's rules are triggers) by the
    child's sessions: where the database's share of the time above the floor goes."""
    for _ in range(50):  # a session's counters reach the view when it has ended
        rows = conn.execute(
            "SELECT funcname, total_time FROM pg_stat_user_functions ORDER BY 2 DESC"
        ).fetchall()
        if rows:
            return {name: round(ms / 1000, 2) for name, ms in rows}
        time.sleep(0.1)
        conn.commit()  # a new snapshot of the statistics
    return {}


def _copy_floor(conn: psycopg.Connection[Any]) -> float:
    """Seconds PostgreSQL takes to COPY the event's ledger rows into empty tables with
    the same columns and indexes (no triggers), in one transaction. The rows are read
    out first into a temporary file; only the COPY FROM and its commit are timed."""
    for floor, like in FLOOR_TABLES:
        conn.execute(f"CREATE TABLE {floor} (LIKE {like} INCLUDING ALL)".encode())
    conn.commit()
    sources = {
        "bench_floor_transactions": "SELECT * FROM ledger_transactions WHERE event_id = %s",
        "bench_floor_entries": "SELECT e.* FROM ledger_entries e JOIN ledger_transactions t"
                               " ON t.id = e.transaction_id WHERE t.event_id = %s",
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as scratch:
        dumps: dict[str, Path] = {}
        for floor, source in sources.items():
            dumps[floor] = Path(scratch) / f"{floor}.copy"
            with dumps[floor].open("wb") as out, conn.cursor() as cur:
                sql = f"COPY ({source}) TO STDOUT (FORMAT binary)"
                with cur.copy(sql.encode(), (EVENT,)) as copy:
                    for chunk in copy:
                        out.write(chunk)
        conn.commit()
        _settle(conn, *(floor for floor, _ in FLOOR_TABLES))
        started = time.perf_counter()
        with conn.cursor() as cur:
            for floor, dump in dumps.items():
                with dump.open("rb") as data:
                    _copy_in(cur, floor, data)
        conn.commit()
        seconds = time.perf_counter() - started
    for floor, _ in FLOOR_TABLES:
        conn.execute(f"DROP TABLE {floor}".encode())
    conn.commit()
    return seconds


def _copy_in(cur: psycopg.Cursor[Any], table: str, data: IO[bytes]) -> None:
    with cur.copy(f"COPY {table} FROM STDIN (FORMAT binary)".encode()) as copy:
        while chunk := data.read(1 << 20):
            copy.write(chunk)


# Correctness, after timing --------------------------------------------------------


def verify(url: str, balance_transactions: int, outcome: dict[str, int]) -> dict[str, Any]:
    """The figures only count if the ledger is right: every balance transaction posted
    once, every transaction balanced, no mismatch found, and the parties' payables sum
    to the statement's distributable."""
    database = Database(make_engine(url, pool_size=2))
    try:
        with Session(database.engine) as session:
            return _checks(session, balance_transactions, outcome)
    finally:
        database.dispose()


def _checks(session: Session, balance_transactions: int, outcome: dict[str, int]) -> dict[str, Any]:
    transactions = session.execute(text(
        "SELECT count(*) FROM ledger_transactions WHERE event_id = :e"), {"e": EVENT}).scalar_one()  # fmt: skip
    unbalanced = session.execute(text("""
        SELECT count(*) FROM (SELECT e.transaction_id FROM ledger_entries e
                                JOIN ledger_transactions t ON t.id = e.transaction_id
                               WHERE t.event_id = :e
                               GROUP BY 1 HAVING sum(e.amount) <> 0) x
    """), {"e": EVENT}).scalar_one()  # fmt: skip
    mismatches = session.exec(
        select(func.count()).select_from(ReconciliationFinding)
        .where(ReconciliationFinding.event_id == EVENT,
               col(ReconciliationFinding.kind) == "ledger_mismatch")
    ).one()  # fmt: skip
    event = session.get(Event, EVENT)
    if event is None:
        raise BenchmarkFailed(f"ledger: no event {EVENT}")
    books = statement(session, event)
    expected = session.execute(text("""
        SELECT sum(amount) FILTER (WHERE kind = 'charge'),
               -sum(amount) FILTER (WHERE kind = 'refund'),
               -coalesce(sum(amount) FILTER (WHERE kind IN ('dispute', 'dispute_reversal')), 0)
          FROM stripe_balance_transactions WHERE event_id = :e
    """), {"e": EVENT}).one()  # fmt: skip
    parties = sum(party.amount for party in books.parties)
    checks = {
        "posted_every_balance_transaction": outcome["posted"] == balance_transactions,
        # one split: every order was sold under rule version 1
        "ledger_transactions_are_balance_transactions_plus_one_split":
            outcome["splits"] == 1 and transactions == balance_transactions + 1,
        "every_transaction_balances": unbalanced == 0,
        "no_ledger_mismatch_findings": mismatches == 0 and outcome["findings"] == 0,
        "statement_gross_refunds_disputes_as_stripe_reports":
            (books.gross, books.refunds, books.disputes) == tuple(int(v or 0) for v in expected),
        "parties_sum_to_distributable": books.distributable > 0 and parties == books.distributable,
    }  # fmt: skip
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        raise BenchmarkFailed(f"ledger: the ledger is wrong after post_and_split: {failed}")
    return {**checks, "gross": books.gross, "distributable": books.distributable,
            "parties": parties}  # fmt: skip


if __name__ == "__main__":
    # The child: python -m bench.ledger URL EVENT_ID; one JSON object on stdout.
    print(json.dumps(child(sys.argv[1], sys.argv[2])))
