"""The CSV export is PostgreSQL's COPY (streamsvc/finance/export_csv.py): byte for byte
the CSV the Python writer made from the same rows (header, quoting, CRLF, amounts in
major units with the currency's places, decimal commas, neutralised formula cells,
unicode, empty cells, the totals row), for ledger data built through the API and for
any rows at all (hostile text, several currencies, big and negative amounts).

The Python writer below is the oracle: the export's CSV writer before COPY wrote it,
kept here unchanged (exports.Totals and export_files.safe_text are still the JSON and
XLSX files' own)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pycountry
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from streamsvc.db import Database
from streamsvc.finance import export_csv, exports
from streamsvc.finance.export_files import safe_text
from streamsvc.finance.exports import AT, CURRENCY_AT, MONEY, NAMES, PARTY_AT, Row, Totals
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.kit.clock import FixedClock
from streamsvc.kit.money import decimal_text, exponent
from tests.finance import worked
from tests.finance.world import World, build


def _text_cells(row: Row, start: int, stop: int) -> list[Any]:
    return [value if isinstance(value, int) else safe_text(value) for value in row[start:stop]]


def python_csv(
    source: Iterator[Row], *, delimiter: str = ",", decimal_comma: bool = False,
    bom: bool = False,
) -> Iterator[bytes]:  # fmt: skip
    """UTF-8 CSV: a header, the rows in major units (12.50), then a totals row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    point = "," if decimal_comma else "."
    first_money, party = AT["gross"], PARTY_AT
    if bom:
        buffer.write("\ufeff")
    writer.writerow(NAMES)
    totals = Totals()
    waterfall: list[str] = []
    for row in source:
        digits = exponent(row[CURRENCY_AT])
        if totals.add(row):  # the waterfall is the same for every party of a posting
            waterfall = [decimal_text(row[i], digits, point) for i in range(first_money, party)]
        writer.writerow((*_text_cells(row, 0, first_money), *waterfall,
                         decimal_text(row[party], digits, point),
                         *_text_cells(row, party + 1, len(row))))  # fmt: skip
        if buffer.tell() > 256_000:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    currency = next(iter(totals.currencies)) if len(totals.currencies) == 1 else None
    digits = exponent(currency) if currency else 0  # several currencies: minor units
    writer.writerow([
        "TOTAL" if name == "venue" else decimal_text(totals.sums[name], digits, point)
        if name in MONEY else (currency or "") if name == "currency" else ""
        for name in NAMES
    ])  # fmt: skip
    yield buffer.getvalue().encode()


# The file's options as the API and the console ask for them (a decimal comma with
# commas as delimiters too: every amount is then quoted).
OPTIONS: list[dict[str, Any]] = [
    {"delimiter": ",", "decimal_comma": False, "bom": False},
    {"delimiter": ";", "decimal_comma": True, "bom": True},
    {"delimiter": ",", "decimal_comma": True, "bom": False},
    {"delimiter": ";", "decimal_comma": False, "bom": True},
]
# Cells a spreadsheet would run, and cells the CSV must quote or keep as they are.
HOSTILE = ["=1+1", "+31 20 555", "-5", "@SUM(A1:A9)", "\tTab", "\rCR", "\r\nCRLF", "=",
           "+", "-", "@", 'Say "hi"', "comma, here", "semi; colon", "line\nbreak",
           "'quoted already", " leading space", "Zürich • Ørsted — «ok» 日本 🎻", "\\.",
           "a=b", "\u2028separator", "\x0bvertical", "NULL", '"']  # fmt: skip


def _same(engine: Engine, where: exports.SplitFilter) -> bytes:
    """The COPY export of `where`, asserted byte for byte the Python writer's of the
    same rows, for every option; the plain one returned."""
    plain = b""
    for options in OPTIONS:
        copied = b"".join(export_csv.csv_chunks(engine, where, **options))
        assert copied == b"".join(python_csv(exports.rows(engine, where), **options)), options
        plain = plain or copied
    return plain


# Ledger data built through the API ---------------------------------------------------

NOVEMBER = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 15, 10, 0, tzinfo=UTC)
EVERYTHING = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def _rename(database: Database, table: str, row_id: str, column: str, value: str) -> None:
    """A name the API would refuse (a control character): the export must still write
    whatever the database holds."""
    with database.engine.begin() as conn:
        conn.execute(text(f"UPDATE {table} SET {column} = :v WHERE id = :id"),
                     {"v": value, "id": row_id})  # fmt: skip


@pytest.fixture
def hostile(client: TestClient, database: Database, clock: FixedClock) -> World:
    """Two events of a venue named like a formula, titled and with performers named
    like formulas, quotes, line breaks and unicode; split in November, then a refund
    split in December (negative amounts)."""
    rule: dict[str, Any] = {"platform_fee_bps": 500, "costs": [2000],
                            "shares": [4000, 2000, 2000, 2000]}  # fmt: skip
    first = build(client, database, clock, tiers=[(4500, 900, 500), (1950, 2100, None)],
                  title="=HYPERLINK(\"http://example.org\",\"x\")",
                  venue_name="@Concertgebouw, Zaal 1", **rule)  # fmt: skip
    second = build(client, database, clock, tiers=[(3500, 900, 500)], venue=first.venue,
                   title="Giselle; «ballet» — 日本", **rule)  # fmt: skip
    names = ['-Minus "the" Singer', "\tTabbed\r\nName", "Ünïcødé, Ørsted 🎻"]
    for world in (first, second):
        for party, name in zip(world.parties[1:], names, strict=True):
            _rename(database, "performers", party["id"], "name", name)
        for lines in ([(0, 2)], [(0, 1)]):
            world.buy(lines)
        reconcile_event(database, world.books, world.event["id"], NOVEMBER, period="2026-11")
    first.refund(first.orders[0], 9000)
    reconcile_event(database, first.books, first.event["id"], DECEMBER, period="+2026-12")
    return first


def test_a_hostile_venues_export_is_the_python_writers_byte_for_byte(
    database: Database, hostile: World
) -> None:
    plain = _same(database.engine, exports.SplitFilter(hostile.venue.id, *EVERYTHING))
    *data, total = list(csv.reader(io.StringIO(plain.decode(), newline="")))[1:]
    assert len(data) == 3 * 4  # three splits (two in November, the refund's), four parties
    assert {row[AT["venue"]] for row in data} == {"'@Concertgebouw, Zaal 1"}
    assert "'\tTabbed\r\nName" in {row[AT["party_name"]] for row in data}
    assert "'+2026-12" in {row[AT["period"]] for row in data}
    assert any(row[PARTY_AT].startswith("-") for row in data)  # amounts stay numbers
    assert total[0] == "TOTAL" and total[CURRENCY_AT] == "EUR"


def test_filtered_and_empty_exports_are_the_python_writers_too(
    database: Database, hostile: World
) -> None:
    venue, performer = hostile.venue.id, hostile.parties[1]["id"]
    for where in (
        exports.SplitFilter(venue, *EVERYTHING, event_id=hostile.event["id"]),
        exports.SplitFilter(venue, *EVERYTHING, party=f"performer:{performer}"),
        exports.SplitFilter(venue, NOVEMBER, DECEMBER),
        exports.SplitFilter(venue, DECEMBER, EVERYTHING[1], party=f"venue:{venue}"),
    ):
        assert _same(database.engine, where).count(b"\r\n") > 2  # a header, rows, TOTAL
    # Nothing in the period: a header and a totals row of zeros, as the writer made.
    empty = _same(database.engine, exports.SplitFilter(venue, *EVERYTHING, event_id="evt_none"))
    header, total = empty.decode().split("\r\n")[:2]
    assert header == ",".join(NAMES) and total.split(",")[:2] == ["TOTAL", ""]
    assert total.split(",")[AT["gross"] : PARTY_AT + 1] == ["0"] * len(MONEY)


def test_a_split_that_pays_nobody_is_the_python_writers_row(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    """The carried loss's second split has no party: one row of empty party cells."""
    case = worked.carried_loss(client, database, clock)
    plain = _same(database.engine, exports.SplitFilter(case.world.venue.id, *EVERYTHING))
    table = list(csv.reader(io.StringIO(plain.decode(), newline="")))
    unpaid = [row for row in table if row[AT["party_id"]] == "" and row[0] != "TOTAL"]
    assert [(row[AT["party_type"]], row[AT["share_bps"]], row[PARTY_AT]) for row in unpaid] == [
        ("", "0", "0.00")
    ]


def test_the_download_routes_send_the_copy(
    client: TestClient, database: Database, hostile: World
) -> None:
    """GET /v1/finance/splits?format=csv sends what the Python writer wrote for its days
    (in the venue's timezone), Dutch Excel's options included."""
    since = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # 1 November, Amsterdam
    until = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)  # 1 January, Amsterdam
    where = exports.SplitFilter(hostile.venue.id, since, until)
    asked: list[tuple[dict[str, str], dict[str, Any]]] = [
        ({}, {}),
        ({"delimiter": "semicolon", "bom": "true"},
         {"delimiter": ";", "decimal_comma": True, "bom": True}),
    ]  # fmt: skip
    for params, options in asked:
        answer = client.get("/v1/finance/splits", headers=hostile.venue.headers,
                            params={"format": "csv", "from": "2026-11-01", "to": "2026-12-31",
                                    **params})  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert answer.content == b"".join(python_csv(exports.rows(database.engine, where),
                                                     **options))  # fmt: skip


# Any rows at all ------------------------------------------------------------------------

_TYPES = {name: "bigint" if name in MONEY else "int" if name in ("share_bps",
          "split_rule_version") else "text" for name in NAMES}  # fmt: skip
Posting = tuple[str, list[int], list[tuple[list[str], int, int]], str]


def _rows_sql(rows: list[Row]) -> tuple[str, dict[str, Any]]:
    """A SELECT of `rows` (bound, so any text goes), in the export's columns and order."""
    params: dict[str, Any] = {}
    lines = []
    for i, row in enumerate(rows):
        cells = []
        for j, (name, value) in enumerate(zip(NAMES, row, strict=True)):
            params[f"c{i}_{j}"] = value
            # CAST, not ::, for a bound negative literal: -2147483648::int overflows.
            cells.append(f"CAST(%(c{i}_{j})s AS {_TYPES[name]})")
        lines.append(f"({', '.join(cells)})")
    columns = ", ".join(f'"{name}"' for name in NAMES)
    return f"SELECT * FROM (VALUES {', '.join(lines)}) AS r({columns})", params


def _copy_is_python(engine: Engine, rows_sql: str, params: dict[str, Any]) -> bytes:
    """COPY's CSV of `rows_sql`, asserted the Python writer's of the same rows (read by
    the same SELECT) for every option; the plain one returned."""
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:
            rows = cursor.execute(rows_sql, params).fetchall()
    plain = b""
    for options in OPTIONS:
        copied = b"".join(export_csv.copy_csv(engine, rows_sql, params, **options))
        assert copied == b"".join(python_csv(iter(rows), **options)), options
        plain = plain or copied
    return plain


def _row_of(posting: Posting, party: tuple[list[str], int, int], n: int) -> Row:
    reference, waterfall, _, currency = posting
    texts, share, amount = party
    head, tail = texts[:9], texts[9:]
    return (*head, share, *waterfall, amount, currency, n, *tail[:2], reference)


_TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8))  # fmt: skip
_AMOUNT = st.integers(-(10**15), 10**15)
_POSTING = st.tuples(
    _TEXT,  # the reference (made unique below)
    st.lists(_AMOUNT, min_size=9, max_size=9),  # the waterfall, the same on its every row
    st.lists(st.tuples(st.lists(_TEXT, min_size=11, max_size=11),
                       st.integers(-(2**31), 2**31 - 1), _AMOUNT), min_size=1, max_size=3),
    st.sampled_from(["EUR", "JPY", "BHD", "CLF", "KRW", "USD", "ZZZ"]),
)  # fmt: skip


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(postings=st.lists(_POSTING, min_size=1, max_size=5))
def test_any_rows_are_written_as_the_python_writer_writes_them(
    database: Database, postings: list[Posting]
) -> None:
    """Whatever the cells hold: a posting's rows are adjacent and share its waterfall
    (the rows' order and record); references are unique, currencies one or several."""
    rows = [
        _row_of((f"{reference}#{n}", waterfall, parties, currency), party, n)
        for n, (reference, waterfall, parties, currency) in enumerate(postings)
        for party in parties
    ]
    _copy_is_python(database.engine, *_rows_sql(rows))


def test_every_hostile_text_in_every_text_column(database: Database) -> None:
    texts = [name for name in NAMES if _TYPES[name] == "text" and name != "currency"]
    rows: list[Row] = []
    for n, cell in enumerate([*HOSTILE, ""]):
        values: dict[str, Any] = {name: cell for name in texts}
        values.update({name: (-1) ** n * 10 ** (n % 16) + n for name in MONEY}, share_bps=-n,
                      split_rule_version=n, currency="EUR",
                      ledger_reference=f"{cell}{n}")  # fmt: skip
        rows.append(tuple(values[name] for name in NAMES))
    plain = _copy_is_python(database.engine, *_rows_sql(rows))
    assert b"'=1+1" in plain and b'"\'\rCR"' in plain and b"'\tTab" in plain


def test_lines_past_a_chunk_and_a_line_break_in_a_cell(database: Database) -> None:
    """More lines than a chunk holds, and cells holding line breaks (which COPY quotes
    and keeps): the CRLF line ends are the writer's on each side of a chunk's end."""
    many = export_csv._CHUNK_LINES * 2 + 7
    # A posting's three rows share its waterfall; each has its own party amount.
    amounts = ", ".join(f"((g / 3) * 37 - 9000)::bigint AS {name}" for name in MONEY[:-1])
    rows_sql = f"""
        SELECT 'Hall' AS venue, 'evt_' || g AS event_id,
               CASE WHEN mod(g, 700) = 0 THEN E'two\\nlines' ELSE 'Title ' || g END AS event_title,
               '2026-12-11' AS event_date, '' AS recording_id, '' AS recording_title,
               'performer' AS party_type, 'prf_' || g AS party_id, 'Name' AS party_name,
               2500 AS share_bps, {amounts}, (g * 11 - 5000)::bigint AS party_amount,
               'EUR' AS currency, 1 AS split_rule_version, '2026-12' AS period,
               '2026-12-01T12:00:00.000000Z' AS posted_at, 'split:' || (g / 3) AS ledger_reference
          FROM generate_series(1, {many}) AS g
         ORDER BY g
    """
    plain = _copy_is_python(database.engine, rows_sql, {})
    assert plain.count(b"\r\n") == many + 2 and b'"two\nlines"' in plain


def test_every_currency_prints_with_its_places(database: Database) -> None:
    """The SQL's unit of every ISO 4217 code is `exponent`'s places: an amount prints
    as `decimal_text` writes it (JPY 0, BHD 3, CLF 4, EUR and the rest 2)."""
    codes = sorted(currency.alpha_3 for currency in pycountry.currencies)
    with database.engine.connect() as conn:
        printed: dict[str, str] = dict(conn.execute(text(
            f"SELECT c, (-123456789::bigint * {export_csv._unit('c')})::text"
            " FROM unnest(CAST(:codes AS text[])) AS c"), {"codes": codes}).all())  # fmt: skip
    assert printed == {code: decimal_text(-123456789, exponent(code)) for code in codes}
    assert {printed["JPY"], printed["BHD"], printed["EUR"]} == {"-123456789", "-123456.789",
                                                                "-1234567.89"}  # fmt: skip
