"""Benchmark of a payout run over 10,000 parties with payable balances.

payout_run: `payouts.runs.run` for one venue whose 10,000 performers are each owed the
  parts of two ended events (20,000 payable entries in 20 split transactions), every
  performer with confirmed payout details. The run reads the due entries, makes one
  line per party, claims the entries and posts payable -> payouts in transit, in one
  transaction. Reported: its wall time and the peak RSS of the process that runs it
  (a fresh child: `python -m bench.payout_run URL VENUE_ID`), the SEPA file of the
  batch made and validated afterwards (timed on its own), and the ratio of the run's
  time to PostgreSQL's own aggregate of the same entries per account (the floor,
  measured in the same run). Goal: under 30 s and 300 MiB. Checked afterwards: 10,000
  pending lines, their total equal to what the ledger owed, every payable account at
  zero, the ledger summing to zero.

Everything runs in a scratch database of its own, dropped afterwards.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bench.ledger import ROOT, _libpq, _scalar, _settle, scratch_database
from streamsvc.migrate import upgrade

DEFAULT_PARTIES = 10_000
PARTIES_ENV = "STREAMSVC_BENCH_PAYOUT_PARTIES"
EVENTS = 20  # each performer has a part in two of them
GOAL_SECONDS, GOAL_RSS_MIB = 30.0, 300
VENUE = "ven_bench_payouts"
NOW = datetime(2027, 1, 20, 12, 0, tzinfo=UTC)
PERIOD = "2026-12"


def parties_wanted() -> int:
    return int(os.environ.get(PARTIES_ENV, DEFAULT_PARTIES))


def run(server_url: str, parties: int) -> dict[str, Any]:
    with scratch_database(server_url, "payouts") as url:
        upgrade(url)
        return measure(url, parties)


def measure(url: str, parties: int) -> dict[str, Any]:
    with psycopg.connect(_libpq(url)) as conn:
        _say(f"pre-loading {parties} performers owed by {EVENTS} events")
        started = time.perf_counter()
        _preload(conn, parties)
        preload_seconds = time.perf_counter() - started
        owed = -_scalar(conn, "SELECT sum(e.amount) FROM ledger_entries e JOIN ledger_accounts a "
                              "ON a.id = e.account_id WHERE a.party_type IS NOT NULL")  # fmt: skip
        _settle(conn, "venues", "events", "performers", "ledger_accounts", "ledger_transactions",
                "ledger_entries", "payout_details")  # fmt: skip
        _say("the floor: the due entries summed per account by PostgreSQL")
        floor = _floor(conn)
        _say("the payout run (timed, in a child process)")
        done = subprocess.run([sys.executable, "-m", "bench.payout_run", url, VENUE], cwd=ROOT,
                              capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"payout run failed:\n{done.stderr}")
        child = json.loads(done.stdout.strip().splitlines()[-1])
        checks = {
            "pending_lines": _scalar(conn, "SELECT count(*) FROM payout_lines WHERE status = 'pending'"),
            "batch_total": _scalar(conn, "SELECT total FROM payout_batches"),
            "owed": owed,
            "payable_left": _scalar(conn, "SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e "
                                          "JOIN ledger_accounts a ON a.id = e.account_id "
                                          "WHERE a.party_type IS NOT NULL"),
            "ledger_sum": _scalar(conn, "SELECT coalesce(sum(amount), 0) FROM ledger_entries"),
            "claims": _scalar(conn, "SELECT count(*) FROM payout_claims"),
        }  # fmt: skip
    if not (checks["pending_lines"] == parties and checks["batch_total"] == owed
            and checks["payable_left"] == 0 and checks["ledger_sum"] == 0
            and checks["claims"] == 2 * parties):  # fmt: skip
        raise RuntimeError(f"the payout run did not pay what was owed: {checks}")
    seconds, rss_mib = float(child["seconds"]), int(child["peak_rss_kib"]) / 1024
    return {
        "parties": parties,
        "payable_entries": 2 * parties,
        "preload_seconds": round(preload_seconds, 2),
        "run_seconds": round(seconds, 2),
        "floor_seconds": round(floor, 3),
        "ratio_to_floor": round(seconds / floor, 1),
        "sepa_file_seconds": round(float(child["sepa_seconds"]), 2),
        "sepa_file_bytes": child["sepa_bytes"],
        "peak_rss_mib": round(rss_mib, 1),
        "rss_before_mib": round(int(child["rss_before_kib"]) / 1024, 1),
        "goals": {"run_seconds_below": GOAL_SECONDS, "peak_rss_mib_below": GOAL_RSS_MIB},
        "met": {"seconds": seconds < GOAL_SECONDS, "rss": rss_mib < GOAL_RSS_MIB},
        "checks": checks,
    }


def _say(message: str) -> None:
    print(f"payout_run: {message}", file=sys.stderr, flush=True)


def _preload(conn: psycopg.Connection[Any], parties: int) -> None:
    """The venue, its performers with confirmed details, EVENTS events that ended in
    November 2026, and one split transaction per event crediting a tenth of the
    performers (each performer twice), balanced by the event's distribution account."""
    created = NOW - timedelta(days=400)
    conn.execute("""
        INSERT INTO venues (id, name, slug, country, currency, timezone, created_at)
        VALUES (%s, 'Bench hall', 'bench-payouts', 'NL', 'EUR', 'Europe/Amsterdam', %s)
    """, (VENUE, created))  # fmt: skip
    conn.execute("""
        INSERT INTO performers (id, venue_id, name, email, created_at)
        SELECT 'prf_bench_' || i, %(v)s, 'Performer ' || i, 'p' || i || '@example.org', %(c)s
          FROM generate_series(0, %(n)s - 1) AS i
    """, {"v": VENUE, "c": created, "n": parties})  # fmt: skip
    conn.execute("""
        INSERT INTO payout_details (id, venue_id, party_type, party_id, holder, iban, bic,
                                    changed_by, changed_at, confirmed_by, confirmed_at)
        SELECT 'pdt_bench_' || i, %(v)s, 'performer', 'prf_bench_' || i, 'Performer ' || i,
               'NL91ABNA0417164300', 'ABNANL2A', 'bench_a', %(c)s, 'bench_b', %(c)s
          FROM generate_series(0, %(n)s - 1) AS i
    """, {"v": VENUE, "c": created, "n": parties})  # fmt: skip
    conn.execute("""
        INSERT INTO events (id, venue_id, title, description, starts_at, ends_at, timezone,
                            attendance_mode, currency, doors_open_minutes, replay_hours,
                            allowed_countries, playback, status, published_at, created_at,
                            updated_at)
        SELECT 'evt_bench_payouts_' || e, %(v)s, 'Concert ' || e, '', s.at,
               s.at + interval '2 hours', 'Europe/Amsterdam', 'online', 'EUR', 30, 48, '[]',
               'https://origin.example.org/live', 'ended', %(c)s, %(c)s, s.at
          FROM generate_series(0, %(events)s - 1) AS e
         CROSS JOIN LATERAL (SELECT timestamptz '2026-11-01 19:00+00'
                                    + make_interval(days => e) AS at) s
    """, {"v": VENUE, "c": created, "events": EVENTS})  # fmt: skip
    conn.execute("""
        INSERT INTO ledger_accounts (id, venue_id, code, currency, party_type, party_id,
                                     created_at)
        SELECT 'acc_bench_p' || i, %(v)s, 'payable:performer:prf_bench_' || i, 'EUR',
               'performer', 'prf_bench_' || i, %(c)s
          FROM generate_series(0, %(n)s - 1) AS i
        UNION ALL
        SELECT 'acc_bench_d' || e, %(v)s, 'distribution:evt_bench_payouts_' || e, 'EUR',
               NULL, NULL, %(c)s
          FROM generate_series(0, %(events)s - 1) AS e
    """, {"v": VENUE, "c": created, "n": parties, "events": EVENTS})  # fmt: skip
    conn.execute("""
        INSERT INTO ledger_transactions (id, venue_id, event_id, reference, currency,
                                         description, reverses, posted_at)
        SELECT 'ltx_bench_' || e, %(v)s, 'evt_bench_payouts_' || e,
               'split:evt_bench_payouts_' || e || ':v1:bench', 'EUR', 'split', NULL,
               timestamptz '2026-11-25 12:00+00'
          FROM generate_series(0, %(events)s - 1) AS e
    """, {"v": VENUE, "events": EVENTS})  # fmt: skip
    # Performer i has a part of events i % 10 and 10 + i % 10: 1,000 + i % 5,000 cents each.
    conn.execute("""
        WITH parts AS (
            SELECT e, i, 1000 + i %% 5000 AS amount
              FROM generate_series(0, %(events)s - 1) AS e
              JOIN generate_series(0, %(n)s - 1) AS i ON i %% 10 = e %% 10
        )
        INSERT INTO ledger_entries (transaction_id, account_id, amount, currency)
        SELECT 'ltx_bench_' || e, 'acc_bench_p' || i, -amount, 'EUR' FROM parts
        UNION ALL
        SELECT 'ltx_bench_' || e, 'acc_bench_d' || e, sum(amount), 'EUR' FROM parts GROUP BY e
    """, {"events": EVENTS, "n": parties})  # fmt: skip
    conn.commit()


def _floor(conn: psycopg.Connection[Any]) -> float:
    """PostgreSQL's own sum of the due payable entries per account (the run's reading)."""
    conn.execute(
        """
        SELECT a.id, sum(e.amount) FROM ledger_accounts a
          JOIN ledger_entries e ON e.account_id = a.id
          JOIN ledger_transactions t ON t.id = e.transaction_id
          JOIN events ev ON ev.id = t.event_id
         WHERE a.venue_id = %s AND a.party_type IS NOT NULL GROUP BY a.id
    """,
        (VENUE,),
    ).fetchall()  # a warm cache for both
    started = time.perf_counter()
    conn.execute("""
        SELECT a.id, sum(e.amount) FROM ledger_accounts a
          JOIN ledger_entries e ON e.account_id = a.id
          JOIN ledger_transactions t ON t.id = e.transaction_id
          JOIN events ev ON ev.id = t.event_id
         WHERE a.venue_id = %s AND a.party_type IS NOT NULL GROUP BY a.id
    """, (VENUE,)).fetchall()  # fmt: skip
    return time.perf_counter() - started


def child(url: str, venue_id: str) -> dict[str, Any]:
    """One payout run, timed, then its SEPA file (timed apart); this process's peak RSS."""
    from config.settings import load_settings
    from streamsvc.db import Database, make_engine
    from streamsvc.payouts import approval, runs
    from streamsvc.payouts.sepa import SepaRail

    settings = load_settings(operator_name="Bench operator", operator_iban="NL02ABNA0123456789")
    database = Database(make_engine(url, pool_size=1))
    with database.unit_of_work() as uow:  # connect before the clock starts
        uow.session.connection()
    rail = SepaRail(settings)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with database.unit_of_work() as uow:
        batch = runs.run(uow.session, venue_id, PERIOD, rail=rail, policy=runs.Policy(14, 1000),
                         created_by="bench_a", now=NOW)  # fmt: skip
        batch_id = batch.id
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    with database.unit_of_work() as uow:
        approval.approve(uow.session, venue_id, batch_id, approved_by="bench_b", now=NOW)
        made = approval.download(uow.session, venue_id, batch_id, rail=rail, now=NOW)
    sepa_seconds = time.perf_counter() - started
    return {"seconds": seconds, "sepa_seconds": sepa_seconds, "sepa_bytes": len(made.content),
            "rss_before_kib": before,
            "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}  # fmt: skip


if __name__ == "__main__":
    # The child: python -m bench.payout_run URL VENUE_ID; one JSON object on stdout.
    print(json.dumps(child(sys.argv[1], sys.argv[2])))
