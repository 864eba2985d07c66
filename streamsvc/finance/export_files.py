"""The export files: the split rows written as JSON or XLSX as they stream in, with
the totals (exports.Totals) at the end; the CSV is PostgreSQL's (export_csv.py), its
text cells neutralised as `safe_text` does here."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

from streamsvc.finance.exports import (
    COLUMNS,
    CURRENCY_AT,
    MONEY,
    NAMES,
    Row,
    Totals,
    as_dict,
)  # fmt: skip
from streamsvc.kit.money import exponent

# A spreadsheet reads a cell that starts with one of these as a formula (or, for tab
# and carriage return, lets it smuggle one in): titles and names are the venue's
# and performers' own words, so such a cell gets a leading quote (OWASP's advice on
# CSV injection). Amounts are never text, so a negative amount stays a number.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: object) -> str:
    """A text cell as a spreadsheet may open it: never read as a formula."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def json_chunks(source: Iterator[Row]) -> Iterator[bytes]:
    """`{"columns": [...], "data": [...], "totals": {...}}`, amounts in minor units."""
    yield b'{"columns": ' + json.dumps(NAMES).encode() + b', "data": ['
    totals = Totals()
    for row in source:
        yield (b", " if totals.rows else b"") + json.dumps(as_dict(row)).encode()
        totals.add(row)
    summary = {"rows": totals.rows, **totals.sums, "currencies": sorted(totals.currencies)}
    yield b'], "totals": ' + json.dumps(summary).encode() + b"}"


def xlsx_file(source: Iterator[Row]) -> IO[bytes]:
    """An XLSX workbook (sheets Splits and Totals) written in constant memory to a
    temporary file, returned rewound. Amounts are numbers in major units."""
    import xlsxwriter  # type: ignore[import-untyped]  # only exports need it

    spool = tempfile.TemporaryFile()  # noqa: SIM115  (the caller streams and closes it)
    book = xlsxwriter.Workbook(spool, {"constant_memory": True, "in_memory": False,
                                       "tmpdir": tempfile.gettempdir()})  # fmt: skip
    sheet = book.add_worksheet("Splits")
    bold = book.add_format({"bold": True})
    formats: dict[int, Any] = {}

    def money_format(places: int) -> Any:
        if places not in formats:
            pattern = "#,##0" + ("." + "0" * places if places else "")
            formats[places] = book.add_format({"num_format": pattern})
        return formats[places]

    for column, (name, _) in enumerate(COLUMNS):
        sheet.write_string(0, column, name, bold)
    totals = Totals()
    for number, row in enumerate(source, start=1):
        totals.add(row)
        places = exponent(row[CURRENCY_AT])
        for column, (name, value) in enumerate(zip(NAMES, row, strict=True)):
            if name in MONEY:
                sheet.write_number(number, column, Decimal(int(value)).scaleb(-places),
                                   money_format(places))  # fmt: skip
            elif isinstance(value, int):
                sheet.write_number(number, column, value)
            else:  # a string cell, never a formula, and quoted like the CSV's
                sheet.write_string(number, column, safe_text(value))
    summary = book.add_worksheet("Totals")
    summary.write_row(0, 0, ["figure", "total", "currency"], bold)
    summary.write_string(1, 0, "rows")
    summary.write_number(1, 1, totals.rows)
    # One currency: amounts in major units like the rows; several: minor units.
    single = next(iter(totals.currencies)) if len(totals.currencies) == 1 else None
    places = exponent(single) if single else 0
    for number, name in enumerate(MONEY, start=2):
        summary.write_string(number, 0, name)
        summary.write_number(number, 1, Decimal(totals.sums[name]).scaleb(-places),
                             money_format(places))  # fmt: skip
        summary.write_string(number, 2, single or "minor units")
    book.close()
    spool.seek(0)
    return spool
