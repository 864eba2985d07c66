"""Split exports: one row per split posting and party (one without a party when the
split paid nobody), read from the ledger.

Every figure comes from the ledger's own record: the party amount is the entry on
the party's account in the split transaction; the waterfall columns are that
transaction's annex (`split_postings`, the change since the previous split). No
money is recomputed here, so an export sums to the ledger balances of the party
accounts for the same filter.

A venue's export also holds its own rows of the events it co-produces (accepted
co-productions, catalog/coproducers.py): the rows of its party there, nothing of the
other parties, so what it is owed from another venue's books is in its export too.

A recording's splits (finance/subjects.py: an archive recording's rentals and
purchases) are rows too: `recording_id` and `recording_title` name it and the event
columns are empty, as the recording columns are on an event's rows. Its rights
holders are parties like a venue or a performer (`party_type` `rights_holder`).

Rows come from a server-side cursor and are written as they come (export_files.py,
JSON and XLSX); the CSV is PostgreSQL's own COPY of the same SELECT (export_csv.py).
Memory stays flat however many rows there are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

# The columns, in order, with what each holds (also in README "Finance exports").
COLUMNS: tuple[tuple[str, str], ...] = (
    ("venue", "the venue's name"),
    ("event_id", "the event"),
    ("event_title", "its title"),
    ("event_date", "its start date, in the event's timezone"),
    ("recording_id", "the recording (an archive recording's split; the event columns empty)"),
    ("recording_title", "its title"),
    ("party_type", "venue, performer or rights_holder"),
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
    ("pass_revenue", "season pass money recognised for the event, net of VAT; in distributable"),
    ("distributable", "what was left to split"),
    ("party_amount", "the party's part (its ledger entry)"),
    ("currency", "ISO 4217"),
    ("split_rule_version", "the split-rule version of the orders"),
    ("period", "the split's period label"),
    ("posted_at", "when the split was posted (UTC)"),
    ("ledger_reference", "the split's ledger transaction reference"),
)
MONEY = ("gross", "refunds", "disputes", "vat", "stripe_fees", "platform_fee", "costs",
         "pass_revenue", "distributable", "party_amount")  # fmt: skip
WATERFALL = MONEY[:-1]  # per split transaction: counted once in the totals
NAMES = tuple(name for name, _ in COLUMNS)
AT = {name: position for position, name in enumerate(NAMES)}  # a row is a tuple in this order
PARTY_AT, CURRENCY_AT, REFERENCE_AT = AT["party_amount"], AT["currency"], AT["ledger_reference"]
_WATERFALL_AT = tuple(AT[name] for name in WATERFALL)
Row = tuple[Any, ...]

# Driven by the period's split postings (an index on venue and time), in order, so a
# month costs a month whatever the venue's history; the planner would otherwise start
# from the party accounts and read every split entry ever posted.
_ROWS = text("""
WITH sp AS MATERIALIZED (
    SELECT * FROM (
        SELECT *, false AS co_produced FROM split_postings
         WHERE venue_id = :venue_id AND posted_at >= :since AND posted_at < :until
           AND (CAST(:event_id AS text) IS NULL OR event_id = :event_id)
           AND (CAST(:recording_id AS text) IS NULL OR recording_id = :recording_id)
        UNION ALL
        -- Events the venue co-produces (another venue's books): only its own rows.
        SELECT s.*, true FROM split_postings s
          JOIN co_productions c ON c.event_id = s.event_id
         WHERE c.partner_venue_id = :venue_id AND c.status = 'accepted'
           AND s.posted_at >= :since AND s.posted_at < :until
           AND (CAST(:event_id AS text) IS NULL OR s.event_id = :event_id)
           AND CAST(:recording_id AS text) IS NULL  -- recordings are never co-produced
    ) found
     ORDER BY posted_at, event_id, recording_id, version, transaction_id
)
SELECT v.name AS venue, coalesce(ev.id, '') AS event_id, coalesce(ev.title, '') AS event_title,
       coalesce(to_char(ev.starts_at AT TIME ZONE ev.timezone, 'YYYY-MM-DD'), '') AS event_date,
       coalesce(rec.id, '') AS recording_id, coalesce(rec.title, '') AS recording_title,
       coalesce(a.party_type, '') AS party_type, coalesce(a.party_id, '') AS party_id,
       coalesce(p.name, pv.name, rh.name, '') AS party_name,
       coalesce((sp.shares ->> a.code)::int, 0) AS share_bps,
       sp.gross, sp.refunds, sp.disputes, sp.vat, sp.stripe_fees, sp.platform_fee, sp.costs,
       sp.pass_revenue, sp.distributable, coalesce(-e.amount, 0) AS party_amount, t.currency,
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
  -- A split posting names an event or a recording, exactly one (migration 0031).
  LEFT JOIN events ev ON ev.id = sp.event_id
  LEFT JOIN recordings rec ON rec.id = sp.recording_id
  JOIN venues v ON v.id = sp.venue_id
  LEFT JOIN performers p ON a.party_type = 'performer' AND p.id = a.party_id
  LEFT JOIN venues pv ON a.party_type = 'venue' AND pv.id = a.party_id
  LEFT JOIN rights_holders rh ON a.party_type = 'rights_holder' AND rh.id = a.party_id
 WHERE (CAST(:party_type AS text) IS NULL
        OR (a.party_type = :party_type AND a.party_id = :party_id))
   AND (NOT sp.co_produced OR (a.party_type = 'venue' AND a.party_id = :venue_id))
 ORDER BY sp.posted_at, sp.event_id, sp.recording_id, sp.version, sp.transaction_id,
          a.code NULLS FIRST
""")


@dataclass(frozen=True)
class SplitFilter:
    venue_id: str
    since: datetime
    until: datetime
    event_id: str | None = None
    party: str | None = None  # "performer:prf_…", "venue:ven_…" or "rights_holder:rhd_…"
    recording_id: str | None = None


def params(where: SplitFilter) -> dict[str, Any]:
    """_ROWS's parameters for a filter (the CSV export binds them too, export_csv.py)."""
    party_type, _, party_id = where.party.partition(":") if where.party else (None, "", None)
    return {"venue_id": where.venue_id, "since": where.since, "until": where.until,
            "event_id": where.event_id, "recording_id": where.recording_id,
            "party_type": party_type, "party_id": party_id}  # fmt: skip


def rows(engine: Engine, where: SplitFilter) -> Iterator[Row]:
    """The export's rows (tuples in COLUMNS order, dates already as ISO text), streamed
    from a server-side cursor on a connection of its own."""
    with engine.connect() as conn:
        yield from conn.execution_options(yield_per=5000).execute(_ROWS, params(where))


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
        self.currencies.add(row[CURRENCY_AT])
        self.sums["party_amount"] += row[PARTY_AT]
        if row[REFERENCE_AT] == self._last_reference:  # rows of a posting are adjacent
            return False
        self._last_reference = row[REFERENCE_AT]
        for name, position in zip(WATERFALL, _WATERFALL_AT, strict=True):
            self.sums[name] += row[position]
        return True
