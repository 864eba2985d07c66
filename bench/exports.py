"""Benchmark of exporting a million split rows as CSV.

exports: `export_csv.csv_chunks(engine, SplitFilter(venue, 2026, 2027))` over N split
  rows (one per split posting and party: 1,000 events of one venue, four parties
  each, a quarter of N split postings spread over 2026), the bytes written to
  /dev/null. The export is PostgreSQL's COPY of the export's SELECT wrapped in the
  CSV's formatting and totals (streamsvc/finance/export_csv.py). Reported: the wall
  time and rows/s, the peak RSS of the process that runs it, that peak again for an
  export of a tenth of the rows (memory must not grow with the rows), and the ratio
  of the time to PostgreSQL's own `COPY (the export's SELECT) TO STDOUT (FORMAT
  csv)` of the same rows, streamed by psycopg and discarded (the floor, measured in
  the same run on the same server). Goal: at most 1.3x the floor and under 200 MiB
  RSS. Also reported: the CPU time of the exporting process, so the figures say how
  much of the time is Python's and how much PostgreSQL's.

Everything runs in a scratch database of its own, dropped afterwards. Pre-loading is
set-based SQL, so this process stays small; the timed part runs in a fresh child
process (`python -m bench.exports URL VENUE_ID SINCE UNTIL`) whose own peak RSS is
the figure.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench.ledger import ROOT, _libpq, _scalar, _settle, scratch_database
from streamsvc.db import make_engine
from streamsvc.migrate import upgrade

DEFAULT_ROWS = 1_000_000
ROWS_ENV = "STREAMSVC_BENCH_EXPORTS_ROWS"
GOAL_RATIO, GOAL_RSS_MIB = 1.3, 200
PARTIES = 4  # the venue and three performers: split rows per split posting
MAX_EVENTS = 1_000

VENUE = "ven_bench_exports"
PERFORMERS = ("prf_bench_exports_1", "prf_bench_exports_2", "prf_bench_exports_3")
VENUE_BPS, PERFORMER_BPS = 4000, 2000
# The split postings are spread evenly over 2026 (UTC); the tenth is its first 36.5 days.
SINCE, UNTIL = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
TENTH_UNTIL = SINCE + (UNTIL - SINCE) / 10


def rows_wanted(given: int | None) -> int:
    return given if given is not None else int(os.environ.get(ROWS_ENV, DEFAULT_ROWS))


def run(server_url: str, rows: int) -> dict[str, Any]:
    with scratch_database(server_url, "exports") as url:
        upgrade(url)
        return measure(url, rows)


def measure(url: str, rows: int) -> dict[str, Any]:
    postings = max(1, -(-rows // PARTIES))  # rounded up to whole split postings
    events = min(MAX_EVENTS, postings)
    with psycopg.connect(_libpq(url)) as conn:
        _say(f"pre-loading {postings * PARTIES} split rows ({postings} split postings, "
             f"{events} events)")  # fmt: skip
        started = time.perf_counter()
        _catalogue(conn, events)
        _split_postings(conn, postings, events)
        preload_seconds = time.perf_counter() - started
        entries = _scalar(conn, "SELECT count(*) FROM ledger_entries")
        # Statistics for the planner, hint bits set and dirty pages flushed, so the
        # timed part pays neither for pre-loading nor for a stale plan.
        _settle(conn, "venues", "events", "performers", "ledger_accounts",
                "ledger_transactions", "ledger_entries", "split_postings")  # fmt: skip

        # One untimed pass first: export and floor alike then read from a warm cache.
        _say("warming the cache (COPY, untimed)")
        _copy(conn, url, UNTIL)

        _say("export (timed, in a child process)")
        full = _export_in_child(url, UNTIL)
        _say("export of a tenth of the rows (timed, in a child process)")
        tenth = _export_in_child(url, TENTH_UNTIL)

        _say("COPY floor")
        floor = _copy(conn, url, UNTIL)
        _say("JSON export, for its memory (in a child process)")
        as_json = _export_in_child(url, UNTIL, "json")

        checks = _checks(conn, full, tenth, floor)
    export_seconds, copy_seconds = float(full["seconds"]), float(floor["seconds"])
    rss_mib = int(full["peak_rss_kib"]) / 1024
    rss_tenth_mib = int(tenth["peak_rss_kib"]) / 1024
    rss_json_mib = int(as_json["peak_rss_kib"]) / 1024
    ratio = export_seconds / copy_seconds
    return {
        "rows": full["rows"],
        "bytes": full["bytes"],
        "split_postings": postings,
        "events": events,
        "ledger_entries": entries,
        "preload_seconds": round(preload_seconds, 2),
        "export_seconds": round(export_seconds, 2),
        "rows_per_second": round(full["rows"] / export_seconds, 1),
        "copy_seconds": round(copy_seconds, 2),
        "copy_rows_per_second": round(full["rows"] / copy_seconds, 1),
        "copy_bytes": floor["bytes"],
        "ratio_to_copy": round(ratio, 3),
        # Where the time goes: the exporting process's own CPU (psycopg and the line
        # ends), the rest waiting for PostgreSQL's rows.
        "breakdown": {"python_cpu_seconds": round(float(full["cpu_seconds"]), 2)},
        "peak_rss_mib": round(rss_mib, 1),
        "peak_rss_mib_tenth": round(rss_tenth_mib, 1),
        # The JSON and XLSX exports still read rows in Python (exports.rows, a
        # server-side cursor): a million of them must not be held at once either.
        "json": {
            "export_seconds": round(float(as_json["seconds"]), 2),
            "bytes": as_json["bytes"],
            "peak_rss_mib": round(rss_json_mib, 1),
        },
        # What the child held before exporting: the interpreter and its imports.
        "rss_before_mib": round(int(full["rss_before_kib"]) / 1024, 1),
        "tenth": {
            "rows": tenth["rows"],
            "bytes": tenth["bytes"],
            "export_seconds": round(float(tenth["seconds"]), 2),
        },
        "goals": {"ratio_to_copy_at_most": GOAL_RATIO, "peak_rss_mib_below": GOAL_RSS_MIB},
        "met": {
            "ratio": ratio <= GOAL_RATIO,
            "rss": max(rss_mib, rss_tenth_mib, rss_json_mib) < GOAL_RSS_MIB,
        },
        "checks": checks,
        "postgres": full["postgres"],
    }


def _say(message: str) -> None:
    print(f"exports: {message}", file=sys.stderr, flush=True)


# Pre-loading, set-based ------------------------------------------------------------


def _catalogue(conn: psycopg.Connection[Any], events: int) -> None:
    """One venue, its three performers, `events` ended events (all of 2025), and the
    ledger accounts their splits post to."""
    created = SINCE - timedelta(days=400)
    conn.execute("""
        INSERT INTO venues (id, name, slug, country, currency, timezone, created_at)
        VALUES (%s, 'Bench hall', 'bench-exports', 'NL', 'EUR', 'Europe/Amsterdam', %s)
    """, (VENUE, created))  # fmt: skip
    for position, performer in enumerate(PERFORMERS, start=1):
        conn.execute("""
            INSERT INTO performers (id, venue_id, name, email, created_at)
            VALUES (%s, %s, %s, %s, %s)
        """, (performer, VENUE, f"Performer {position}", f"{performer}@example.org",
              created))  # fmt: skip
    conn.execute("""
        INSERT INTO events (id, venue_id, title, description, starts_at, ends_at, timezone,
                            attendance_mode, currency, doors_open_minutes, replay_hours,
                            allowed_countries, playback, status, published_at, created_at,
                            updated_at)
        SELECT 'evt_bench_exports_' || lpad(e::text, 4, '0'), %(v)s, 'Concert number ' || e,
               '', s.at, s.at + interval '2 hours', 'Europe/Amsterdam', 'online', 'EUR', 30, 48, '[]',
               'https://origin.example.org/live', 'ended', %(c)s, %(c)s, s.at
          FROM generate_series(0, %(n)s - 1) AS e
         CROSS JOIN LATERAL (SELECT %(year)s + make_interval(days => e * 364 / %(n)s)
                                    + interval '19 hours' AS at) s
    """, {"v": VENUE, "c": created, "n": events, "year": SINCE - timedelta(days=365)})  # fmt: skip
    # The venue's accounts, then each event's: what a split of the event posts to.
    codes = ["vat_payable", "platform_fees", f"payable:venue:{VENUE}",
             *(f"payable:performer:{p}" for p in PERFORMERS)]  # fmt: skip
    conn.execute("""
        INSERT INTO ledger_accounts (id, venue_id, code, currency, party_type, party_id,
                                     created_at)
        SELECT 'acc_' || substr(md5('account:' || code), 1, 20), %(v)s, code, 'EUR',
               CASE WHEN starts_with(code, 'payable:') THEN split_part(code, ':', 2) END,
               CASE WHEN starts_with(code, 'payable:') THEN split_part(code, ':', 3) END, %(c)s
          FROM (SELECT unnest(%(codes)s::text[]) AS code
                UNION ALL
                SELECT prefix || e.id || suffix
                  FROM events e, (VALUES ('costs_recouped:', ':0'), ('distribution:', ''))
                                  AS k(prefix, suffix)
                 WHERE e.venue_id = %(v)s) a
    """, {"v": VENUE, "c": created, "codes": codes})  # fmt: skip


# One row per split posting: posting i is the (i / events)-th split of event
# i % events, posted at 2026-01-01 + i/n of the year; its waterfall (the change since
# the event's previous split) varies with i, its parties' parts follow the shares
# (the venue takes the remainder), and the first split of each event recoups costs.
_PLAN = """
CREATE TEMP TABLE bench_postings ON COMMIT DROP AS
SELECT i, 'evt_bench_exports_' || lpad((i %% %(events)s)::text, 4, '0') AS event_id,
       'ltx_' || substr(md5('split:' || i), 1, 20) AS transaction_id,
       'bench-' || lpad((i / %(events)s)::text, 4, '0') AS period,
       %(since)s + make_interval(secs => i * %(year_seconds)s / %(n)s) AS posted_at,
       g.gross, r.refunds, r.disputes, v.vat, v.stripe_fees, f.platform_fee, v.costs,
       d.distributable, d.distributable * %(performer_bps)s / 10000 AS performer_part
  FROM generate_series(0, %(n)s - 1) AS i
 CROSS JOIN LATERAL (SELECT 100000 + (i %% 997) * 100 AS gross) g
 CROSS JOIN LATERAL (SELECT g.gross * (i %% 7) / 100 AS refunds,
                            CASE WHEN i %% 50 = 3 THEN g.gross / 20 ELSE 0 END AS disputes) r
 CROSS JOIN LATERAL (SELECT (g.gross - r.refunds - r.disputes) * 21 / 121 AS vat,
                            25 + g.gross * 15 / 1000 AS stripe_fees,
                            CASE WHEN i < %(events)s THEN 50000 ELSE 0 END AS costs) v
 CROSS JOIN LATERAL (SELECT (g.gross - r.refunds - r.disputes - v.vat) * 5 / 100
                            AS platform_fee) f
 CROSS JOIN LATERAL (SELECT g.gross - r.refunds - r.disputes - v.vat - v.stripe_fees
                            - f.platform_fee - v.costs AS distributable) d
"""

_TRANSACTIONS = """
INSERT INTO ledger_transactions (id, venue_id, event_id, reference, currency, description,
                                 reverses, posted_at)
SELECT transaction_id, %(venue)s, event_id, 'split:' || event_id || ':v1:' || period, 'EUR',
       'split under rule version 1 (100 orders)', NULL, posted_at
  FROM bench_postings ORDER BY i
"""

# Every entry of every split transaction in one statement (the balance trigger checks
# each INSERT's transactions whole): the parties', VAT, the platform fee, costs
# recouped, and the event's distribution account balancing them.
_ENTRIES = """
INSERT INTO ledger_entries (transaction_id, account_id, amount, currency)
SELECT p.transaction_id, a.id, l.amount, 'EUR'
  FROM bench_postings p
 CROSS JOIN LATERAL (VALUES
       (%(venue_account)s, -(p.distributable - 3 * p.performer_part)),
       (%(performer_1)s, -p.performer_part), (%(performer_2)s, -p.performer_part),
       (%(performer_3)s, -p.performer_part),
       ('vat_payable', -p.vat), ('platform_fees', -p.platform_fee),
       ('costs_recouped:' || p.event_id || ':0', -p.costs),
       ('distribution:' || p.event_id, p.vat + p.platform_fee + p.costs + p.distributable)
       ) AS l(code, amount)
  JOIN ledger_accounts a ON a.venue_id = %(venue)s AND a.code = l.code AND a.currency = 'EUR'
 WHERE l.amount <> 0
 ORDER BY p.i
"""

_ANNEXES = """
INSERT INTO split_postings (transaction_id, venue_id, event_id, version, period, currency,
                            orders, gross, refunds, disputes, vat, stripe_fees, platform_fee,
                            costs, distributable, shares, posted_at)
SELECT transaction_id, %(venue)s, event_id, 1, period, 'EUR', 100, gross, refunds, disputes,
       vat, stripe_fees, platform_fee, costs, distributable, %(shares)s, posted_at
  FROM bench_postings ORDER BY i
"""


def _split_postings(conn: psycopg.Connection[Any], postings: int, events: int) -> None:
    venue_account = f"payable:venue:{VENUE}"
    performers = [f"payable:performer:{p}" for p in PERFORMERS]
    shares = {venue_account: VENUE_BPS, **dict.fromkeys(performers, PERFORMER_BPS)}
    conn.execute(_PLAN, {"n": postings, "events": events, "since": SINCE,
                         "year_seconds": (UNTIL - SINCE).total_seconds(),
                         "performer_bps": PERFORMER_BPS})  # fmt: skip
    context = {"venue": VENUE, "venue_account": venue_account, "shares": json.dumps(shares),
               **{f"performer_{n}": code for n, code in enumerate(performers, start=1)}}  # fmt: skip
    conn.execute(_TRANSACTIONS, context)
    conn.execute(_ENTRIES, context)
    conn.execute(_ANNEXES, context)
    conn.commit()


# The timed part, in a child process ------------------------------------------------


def _export_in_child(url: str, until: datetime, kind: str = "csv") -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.exports", url, VENUE, SINCE.isoformat(), until.isoformat(),
         kind],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"export failed:\n{done.stderr}")
    # The last line: anything a library might print before it is not ours to parse.
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def child(url: str, venue_id: str, since: datetime, until: datetime) -> dict[str, Any]:
    """Export once as CSV to /dev/null, timed; with this process's peak RSS (KiB on
    Linux) and the export's TOTAL row."""
    from streamsvc.finance.export_csv import csv_chunks
    from streamsvc.finance.exports import COLUMNS, SplitFilter
    from streamsvc.kit.money import exponent

    engine = make_engine(url, pool_size=1)
    version = _connect(engine)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    size = lines = 0
    last = b""
    cpu = time.process_time()
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        for chunk in csv_chunks(engine, SplitFilter(venue_id, since, until)):
            sink.write(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")  # no field holds a line break
            last = chunk
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    engine.dispose()
    # The TOTAL row is the last line of the last chunk; amounts in major units.
    total = dict(zip([name for name, _ in COLUMNS],
                     next(csv.reader([last.decode().splitlines()[-1]])), strict=True))  # fmt: skip
    places = exponent(total["currency"])
    return {
        "seconds": seconds, "cpu_seconds": cpu, "bytes": size,
        "rows": lines - 2,  # the header and TOTAL
        "peak_rss_kib": peak, "rss_before_kib": before, "postgres": version,
        "total": {name: int(Decimal(total[name]).scaleb(places))
                  for name in ("gross", "distributable", "party_amount")},
    }  # fmt: skip


def json_child(url: str, venue_id: str, since: datetime, until: datetime) -> dict[str, Any]:
    """Export once as JSON to /dev/null (rows from a server-side cursor, written by
    Python as they come), for its peak RSS: memory must stay flat there too."""
    from streamsvc.finance.export_files import json_chunks
    from streamsvc.finance.exports import SplitFilter, rows

    engine = make_engine(url, pool_size=1)
    _connect(engine)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    size = 0
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        for chunk in json_chunks(rows(engine, SplitFilter(venue_id, since, until))):
            sink.write(chunk)
            size += len(chunk)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    engine.dispose()
    return {"seconds": seconds, "bytes": size, "peak_rss_kib": peak, "rss_before_kib": before}


def _connect(engine: Engine) -> str:
    """Connect before the clock starts (the pool keeps the connection)."""
    with engine.connect() as conn:
        return str(conn.execute(text("SHOW server_version")).scalar())


# The floor --------------------------------------------------------------------------


def _copy(conn: psycopg.Connection[Any], url: str, until: datetime) -> dict[str, Any]:
    """PostgreSQL's own CSV of the export's SELECT (`exports._ROWS` as the export's
    engine compiles it, its parameters inlined by psycopg as COPY takes none), streamed
    to this process and discarded."""
    from streamsvc.finance.exports import _ROWS

    params = {"venue_id": VENUE, "since": SINCE, "until": until, "event_id": None,
              "recording_id": None, "party_type": None, "party_id": None}  # fmt: skip
    select = str(_ROWS.compile(dialect=make_engine(url).dialect))  # :name -> %(name)s
    query = psycopg.ClientCursor(conn).mogrify(select, params)
    size = messages = 0
    with conn.cursor() as cur:
        started = time.perf_counter()
        with cur.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)".encode()) as copy:
            for data in copy:  # one message per row
                size += len(data)
                messages += 1
        seconds = time.perf_counter() - started
    conn.commit()
    return {"seconds": seconds, "bytes": size, "rows": messages - 1}  # the header


# Correctness, after timing --------------------------------------------------------


def _checks(
    conn: psycopg.Connection[Any], full: dict[str, Any], tenth: dict[str, Any],
    floor: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """The figures only count if the export read the right rows: as many as the
    ledger's payable entries in the venue's split transactions of the period, its
    TOTAL party_amount their sum, its TOTAL gross the split postings'."""
    expected = {}
    for name, until in (("full", UNTIL), ("tenth", TENTH_UNTIL)):
        row = conn.execute("""
            SELECT count(*), coalesce(-sum(e.amount), 0)
              FROM ledger_transactions t
              JOIN ledger_entries e ON e.transaction_id = t.id
              JOIN ledger_accounts a ON a.id = e.account_id
             WHERE t.venue_id = %(v)s AND starts_with(t.reference, 'split:')
               AND t.posted_at >= %(s)s AND t.posted_at < %(u)s
               AND starts_with(a.code, 'payable:')
        """, {"v": VENUE, "s": SINCE, "u": until}).fetchone()  # fmt: skip
        gross = _scalar(conn, "SELECT coalesce(sum(gross), 0) FROM split_postings"
                              " WHERE venue_id = %s AND posted_at >= %s AND posted_at < %s",
                        VENUE, SINCE, until)  # fmt: skip
        assert row is not None
        expected[name] = {"rows": int(row[0]), "party_amount": int(row[1]), "gross": gross}
    conn.commit()
    checks = {
        "rows_are_the_ledgers_payable_entries": full["rows"] == expected["full"]["rows"],
        "total_party_amount_is_the_ledgers_payables":
            full["total"]["party_amount"] == expected["full"]["party_amount"],
        "total_gross_is_the_split_postings":
            full["total"]["gross"] == expected["full"]["gross"],
        "tenth_rows_and_total_as_the_ledger":
            tenth["rows"] == expected["tenth"]["rows"]
            and tenth["total"]["party_amount"] == expected["tenth"]["party_amount"],
        "tenth_is_a_tenth": abs(tenth["rows"] * 10 - full["rows"]) <= 10 * PARTIES,
        "copy_floor_has_the_same_rows": floor["rows"] == full["rows"],
    }  # fmt: skip
    failed = [name for name, ok in checks.items() if not ok]
    assert not failed, f"the export read the wrong rows: {failed} ({full}, {expected})"
    return {**checks, "party_amount": expected["full"]["party_amount"],
            "gross": expected["full"]["gross"]}  # fmt: skip


if __name__ == "__main__":
    # The child: python -m bench.exports URL VENUE_ID SINCE UNTIL; one JSON object on
    # stdout.
    _url, _venue, _since, _until = sys.argv[1:5]
    _export = json_child if sys.argv[5:] == ["json"] else child
    print(json.dumps(_export(_url, _venue, datetime.fromisoformat(_since),
                             datetime.fromisoformat(_until))))  # fmt: skip
