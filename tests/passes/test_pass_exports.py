"""Pass revenue in the finance exports and statements: its own column, summing to the
ledger's pass revenue of each event, and its own line on the party statement and on
the console's finance page of the event."""

from __future__ import annotations

import csv
import io

from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.finance import accounts
from streamsvc.finance.exports import COLUMNS
from streamsvc.kit.clock import FixedClock
from tests.passes.season import make_season

PERIOD = {"from": "2026-11-01", "to": "2027-01-31"}


def _ledger_pass_revenue(database: Database, event_id: str) -> int:
    """The credit balance of the event's pass revenue account, straight from the ledger."""
    with database.engine.connect() as conn:
        return -int(conn.execute(text(
            "SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e "
            "JOIN ledger_accounts a ON a.id = e.account_id WHERE a.code = :code"
        ), {"code": accounts.pass_revenue(event_id)}).scalar_one())  # fmt: skip


def test_the_exports_pass_revenue_sums_to_the_ledgers(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    season = make_season(client, database, settings, clock, concerts=3)
    for world in season.concerts:
        world.buy([(0, 1)])
    for _ in range(3):
        season.buy_pass()
    season.end(0)
    season.end(1)  # the third concert has not ended: its share stays deferred
    headers = season.venue.headers
    names = [name for name, _ in COLUMNS]
    assert "pass_revenue" in names

    whole = client.get("/v1/finance/splits", params={"format": "json", **PERIOD},
                       headers=headers).json()  # fmt: skip
    ledger_total = 0
    for index, world in enumerate(season.concerts):
        event_id = world.event["id"]
        ledger = _ledger_pass_revenue(database, event_id)
        ledger_total += ledger
        assert ledger == season.statement(index).pass_revenue
        rows = client.get("/v1/finance/splits", headers=headers, params={
            "format": "json", "event_id": event_id, **PERIOD}).json()  # fmt: skip
        # The waterfall of each split posting once, as the totals count it.
        postings: dict[str, int] = {}
        for row in rows["data"]:
            postings[row["ledger_reference"]] = row["pass_revenue"]
        assert sum(postings.values()) == rows["totals"]["pass_revenue"] == ledger
        assert (ledger > 0) == (index < 2)
    assert whole["totals"]["pass_revenue"] == ledger_total > 0

    # The same column in the CSV, and its own line on a performer's statement.
    as_csv = client.get("/v1/finance/splits", params={"format": "csv", **PERIOD},
                        headers=headers)  # fmt: skip
    header = next(csv.reader(io.StringIO(as_csv.text), delimiter=_delimiter(as_csv.text)))
    assert "pass_revenue" in header
    performer = next(row for row in whole["data"] if row["party_type"] == "performer")
    statement = client.get(
        f"/v1/finance/parties/performer/{performer['party_id']}/statement",
        params={**PERIOD, "lang": "en"}, headers=headers,
    )  # fmt: skip
    assert statement.status_code == 200
    assert "Season passes" in statement.text and 'id="total-pass_revenue"' in statement.text


def _delimiter(body: str) -> str:
    first = body.splitlines()[0] if body else ""
    return ";" if first.count(";") > first.count(",") else ","
