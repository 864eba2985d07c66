"""The split export as CSV, written by PostgreSQL itself: `COPY (SELECT ...) TO STDOUT
WITH (FORMAT csv)` over the export's own rows (exports.py), streamed through psycopg
in chunks. No row becomes a Python object, and memory stays flat.

The SELECT around the rows does in SQL what export_files.py does in Python for JSON
and XLSX, to the byte of the CSV it used to write: text cells neutralised as
`safe_text` does (a quote before = + - @ tab or CR), amounts in major units with the
currency's places (`decimal_text`), integers as they are, and the totals row
(`exports.Totals`: party amounts summed, the waterfall once per split posting) from
running sums over the same rows, emitted after the last of them: one statement, one
snapshot, so the totals are exactly those of the rows above them. An empty text is
written as NULL, because COPY quotes an empty string where the csv module writes
nothing. Python turns COPY's line ends into the csv module's CRLF, adds the byte
order mark, and writes the totals of an export without rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import pycountry
from psycopg.abc import Buffer
from sqlalchemy.engine import Engine

from streamsvc.finance import exports
from streamsvc.finance.export_files import FORMULA_START
from streamsvc.finance.exports import MONEY, NAMES, SplitFilter
from streamsvc.kit.money import exponent

# What safe_text puts a quote before, as code points: ascii() of a text is its first
# character's (0 for an empty text), cheaper than comparing texts.
_FORMULA_START = ", ".join(str(ord(start)) for start in FORMULA_START)
_INTEGERS = ("share_bps", "split_rule_version")  # numbers: never neutralised
_CHUNK_LINES = 2000  # lines a chunk gathers before it is sent (about 500 kB)
# The totals' places: the currency's when there is one, else minor units (as integers).
_TOTAL_UNIT = "(CASE WHEN r.single IS NULL THEN 1 ELSE r.unit END)"


def _unit(currency: str) -> str:
    """SQL for one minor unit of `currency` as a numeric of the currency's scale (0.01
    for EUR, 1 for JPY): an amount times it prints as `decimal_text` writes it."""
    places: dict[int, list[str]] = {}
    for code in sorted(known.alpha_3 for known in pycountry.currencies):
        places.setdefault(exponent(code), []).append(code)
    del places[2]  # every other code
    cases = " ".join(f"WHEN {currency} = ANY('{{{','.join(codes)}}}') THEN {_one(digits)}"
                     for digits, codes in sorted(places.items()))  # fmt: skip
    # Most rows are in a currency of two places: one look-up in a (hashed) list.
    odd = ",".join(sorted(code for codes in places.values() for code in codes))
    return f"CASE WHEN {currency} = ANY('{{{odd}}}') THEN CASE {cases} END ELSE 0.01 END"


def _one(places: int) -> str:
    return "0." + "0" * (places - 1) + "1" if places else "1"


def _text(value: str) -> str:
    return (f"CASE WHEN ascii({value}) IN ({_FORMULA_START}) THEN '''' || {value} "
            f"ELSE nullif({value}, '') END")  # fmt: skip


def _amount(value: str, unit: str, point: str) -> str:
    printed = f"({value} * {unit})::text"
    return printed if point == "." else f"replace({printed}, '.', '{point}')"


@cache  # pure, from constants: built once per decimal mark, not per download
def select(rows: str, point: str) -> str:
    """The CSV's SELECT around the export's rows (`rows`, SQL): each cell as the CSV
    writes it, and after the last row a totals row (where `k.total`)."""
    cells = []
    for name in NAMES:
        if name == "venue":
            cell = f"CASE WHEN k.total THEN 'TOTAL' ELSE {_text('r.venue')} END"
        elif name == "currency":  # one currency, or none named: minor units
            cell = f"CASE WHEN k.total THEN r.single ELSE {_text('r.currency')} END"
        elif name in MONEY:
            cell = (f"CASE WHEN k.total THEN {_amount(f'r.total_{name}', _TOTAL_UNIT, point)}"
                    f" ELSE {_amount(f'r.{name}', 'r.unit', point)} END")  # fmt: skip
        elif name in _INTEGERS:
            cell = f"CASE WHEN NOT k.total THEN r.{name} END"
        else:
            cell = f"CASE WHEN NOT k.total THEN {_text(f'r.{name}')} END"
        cells.append(f'{cell} AS "{name}"')
    # Running sums, read on the last row only. A posting's rows are adjacent (the rows'
    # order) and share its waterfall: it counts on the row that starts the posting.
    sums = ", ".join(
        f"sum(r.{name}) OVER run AS total_{name}" if name == "party_amount"
        else f"sum(r.{name}) FILTER (WHERE r.starts) OVER run AS total_{name}"
        for name in MONEY
    )  # fmt: skip
    # Built from module constants and the export's own SQL; the input is bound.
    return f"""
SELECT {", ".join(cells)}
  FROM (SELECT r.*, {sums},
               CASE WHEN min(r.currency COLLATE "C") OVER run
                         = max(r.currency COLLATE "C") OVER run
                    THEN r.currency END AS single,
               lead(true, 1, false) OVER run AS more
          FROM (SELECT r.*, {_unit("r.currency")} AS unit,
                       r.ledger_reference IS DISTINCT FROM lag(r.ledger_reference) OVER run
                           AS starts
                  FROM ({rows}) r
                WINDOW run AS (ROWS UNBOUNDED PRECEDING)) r
        WINDOW run AS (ROWS UNBOUNDED PRECEDING)) r
 -- Each row as it comes, and after the last one its running sums: the totals row.
 CROSS JOIN LATERAL (SELECT false AS total UNION ALL SELECT true WHERE NOT r.more) k
"""  # noqa: S608


def csv_chunks(
    engine: Engine, where: SplitFilter, *, delimiter: str = ",", decimal_comma: bool = False,
    bom: bool = False,
) -> Iterator[bytes]:  # fmt: skip
    """UTF-8 CSV: a header, the rows in major units (12.50), then a totals row; on a
    connection of its own."""
    rows = str(exports._ROWS.compile(dialect=engine.dialect))  # :name -> %(name)s
    return copy_csv(engine, rows, exports.params(where), delimiter=delimiter,
                    decimal_comma=decimal_comma, bom=bom)  # fmt: skip


def copy_csv(
    engine: Engine, rows: str, params: dict[str, Any], *, delimiter: str, decimal_comma: bool,
    bom: bool,
) -> Iterator[bytes]:  # fmt: skip
    """The CSV of `rows` (SQL with psycopg's %(name)s parameters, yielding the columns of
    exports.COLUMNS in order), streamed from COPY in chunks of whole lines."""
    query = (f"COPY ({select(rows, ',' if decimal_comma else '.')}) TO STDOUT"
             f" WITH (FORMAT csv, HEADER, DELIMITER '{delimiter}')")  # fmt: skip
    head = "\ufeff".encode() if bom else b""
    lines: list[Buffer] = []
    sent = False
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor, cursor.copy(query, params) as copy:
            for line in copy:  # PostgreSQL sends a message a line, LF-ended
                lines.append(line)
                if len(lines) == _CHUNK_LINES:
                    yield head + _crlf(lines)
                    head, sent = b"", True
                    lines.clear()
    if not sent and len(lines) == 1:  # the header alone: no rows, so no running sums
        yield head + _crlf(lines) + _empty_totals(delimiter)
    elif lines:
        yield head + _crlf(lines)


def _crlf(lines: list[Buffer]) -> bytes:
    """COPY's lines (each ends in LF) with the csv module's CRLF instead."""
    text = b"".join(lines)
    if text.count(b"\n") == len(lines):  # no cell holds a line break: all are line ends
        return text.replace(b"\n", b"\r\n")
    return b"\r\n".join(line[:-1] for line in lines) + b"\r\n"


def _empty_totals(delimiter: str) -> bytes:
    cells = ("TOTAL" if name == "venue" else "0" if name in MONEY else "" for name in NAMES)
    return (delimiter.join(cells) + "\r\n").encode()
