"""Split exports: one row per split posting and party (one without a party when the
split paid nobody), read from the ledger.

Every figure comes from the ledger's own record: the party amount is the entry on
the party's account in the split transaction; the waterfall columns are that
transaction's annex (`split_postings`, the change since the previous split). No
money is recomputed here, so an export sums to the ledger balances of the party
accounts for the same filter.

Rows come from a server-side cursor and are written as they come: memory stays flat
however many rows there are.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from streamsvc.kit.money import decimal_text, exponent

# The columns, in order, with what each holds (also in README "Finance exports").
COLUMNS: tuple[tuple[str, str], ...] = (
    ("venue", "the venue's name"),
    ("event_id", "the event"),
    ("event_title", "its title"),
    ("event_date", "its start date, in the event's timezone"),
    ("party_type", "venue or performer"),
    ("party_id", "the party"),
    ("party_name", "its name"),
    ("share_bps", "its share under the split-rule version, basis points"),
    ("gross", "what buyers paid (change since the previous split)"),
    ("refunds", "refunded"),
    ("disputes", "withdrawn by disputes and not reinstated"),
    ("vat", "VAT"),
    ("stripe_fees", "Stripe's fees, as charged"),
    ("platform_fee", "the platform fee"),
    ("costs", "costs recouped"),
    ("distributable", "what was left to split"),
    ("party_amount", "the party's part (its ledger entry)"),
    ("currency", "ISO 4217"),
    ("split_rule_version", "the split-rule version of the orders"),
    ("period", "the split's period label"),
    ("posted_at", "when the split was posted (UTC)"),
    ("ledger_reference", "the split's ledger transaction reference"),
)
MONEY = ("gross", "refunds", "disputes", "vat", "stripe_fees", "platform_fee", "costs",
         "distributable", "party_amount")  # fmt: skip
WATERFALL = MONEY[:-1]  # per split transaction: counted once in the totals
NAMES = tuple(name for name, _ in COLUMNS)
AT = {name: position for position, name in enumerate(NAMES)}  # a row is a tuple in this order
_PARTY, _CURRENCY, _REFERENCE = AT["party_amount"], AT["currency"], AT["ledger_reference"]
_WATERFALL_AT = tuple(AT[name] for name in WATERFALL)
Row = tuple[Any, ...]

# Driven by the period's split postings (an index on venue and time), in order, so a
# month costs a month whatever the venue's history; the planner would otherwise start
# from the party accounts and read every split entry ever posted.
_ROWS = text("""
WITH sp AS MATERIALIZED (
    SELECT * FROM split_postings
     WHERE venue_id = :venue_id AND posted_at >= :since AND posted_at < :until
       AND (CAST(:event_id AS text) IS NULL OR event_id = :event_id)
     ORDER BY posted_at, event_id, version, transaction_id
)
SELECT v.name AS venue, ev.id AS event_id, ev.title AS event_title,
       to_char(ev.starts_at AT TIME ZONE ev.timezone, 'YYYY-MM-DD') AS event_date,
       coalesce(a.party_type, '') AS party_type, coalesce(a.party_id, '') AS party_id,
       coalesce(p.name, pv.name, '') AS party_name,
       coalesce((sp.shares ->> a.code)::int, 0) AS share_bps,
       sp.gross, sp.refunds, sp.disputes, sp.vat, sp.stripe_fees, sp.platform_fee, sp.costs,
       sp.distributable, coalesce(-e.amount, 0) AS party_amount, t.currency,
       sp.version AS split_rule_version, sp.period,
       to_char(t.posted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS posted_at,
       t.reference AS ledger_reference
  FROM sp
  JOIN ledger_transactions t ON t.id = sp.transaction_id
  -- A split that pays nobody yet (its distributable still repays a carried loss) has
  -- no party entry, but its VAT, fees and costs are real: it gets one row without a
  -- party, so the export's totals tie out with the ledger.
  LEFT JOIN (ledger_entries e
             JOIN ledger_accounts a ON a.id = e.account_id AND a.party_type IS NOT NULL)
         ON e.transaction_id = sp.transaction_id
  JOIN events ev ON ev.id = sp.event_id
  JOIN venues v ON v.id = sp.venue_id
  LEFT JOIN performers p ON a.party_type = 'performer' AND p.id = a.party_id
  LEFT JOIN venues pv ON a.party_type = 'venue' AND pv.id = a.party_id
 WHERE (CAST(:party_type AS text) IS NULL
        OR (a.party_type = :party_type AND a.party_id = :party_id))
 ORDER BY sp.posted_at, sp.event_id, sp.version, sp.transaction_id, a.code NULLS FIRST
""")


@dataclass(frozen=True)
class SplitFilter:
    venue_id: str
    since: datetime
    until: datetime
    event_id: str | None = None
    party: str | None = None  # "performer:prf_…" or "venue:ven_…"


def rows(engine: Engine, where: SplitFilter) -> Iterator[Row]:
    """The export's rows (tuples in COLUMNS order, dates already as ISO text), streamed
    from a server-side cursor on a connection of its own."""
    party_type, _, party_id = where.party.partition(":") if where.party else (None, "", None)
    params = {"venue_id": where.venue_id, "since": where.since, "until": where.until,
              "event_id": where.event_id, "party_type": party_type,
              "party_id": party_id}  # fmt: skip
    with engine.connect() as conn:
        yield from conn.execution_options(yield_per=5000).execute(_ROWS, params)


def as_dict(row: Row) -> dict[str, Any]:
    return dict(zip(NAMES, row, strict=True))


class Totals:
    """Party amounts summed over every row; waterfall figures once per split posting."""

    def __init__(self) -> None:
        self.sums = dict.fromkeys(MONEY, 0)
        self.rows = 0
        self.currencies: set[str] = set()
        self._last_reference: str | None = None

    def add(self, row: Row) -> bool:
        """Count a row; True when it starts another split posting."""
        self.rows += 1
        self.currencies.add(row[_CURRENCY])
        self.sums["party_amount"] += row[_PARTY]
        if row[_REFERENCE] == self._last_reference:  # rows of a posting are adjacent
            return False
        self._last_reference = row[_REFERENCE]
        for name, position in zip(WATERFALL, _WATERFALL_AT, strict=True):
            self.sums[name] += row[position]
        return True


def csv_chunks(
    source: Iterator[Row], *, delimiter: str = ",", decimal_comma: bool = False,
    bom: bool = False,
) -> Iterator[bytes]:  # fmt: skip
    """UTF-8 CSV: a header, the rows in major units (12.50), then a totals row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    point = "," if decimal_comma else "."
    first_money, party = AT["gross"], _PARTY
    if bom:
        buffer.write("\ufeff")
    writer.writerow(NAMES)
    totals = Totals()
    waterfall: list[str] = []
    for row in source:
        digits = exponent(row[_CURRENCY])
        if totals.add(row):  # the waterfall is the same for every party of a posting
            waterfall = [decimal_text(row[i], digits, point) for i in range(first_money, party)]
        writer.writerow((*row[:first_money], *waterfall, decimal_text(row[party], digits, point),
                         *row[party + 1 :]))  # fmt: skip
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
        places = exponent(row[_CURRENCY])
        for column, (name, value) in enumerate(zip(NAMES, row, strict=True)):
            if name in MONEY:
                sheet.write_number(number, column, Decimal(int(value)).scaleb(-places),
                                   money_format(places))  # fmt: skip
            elif isinstance(value, int):
                sheet.write_number(number, column, value)
            else:
                sheet.write_string(number, column, str(value))
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
