"""The platform's statement of its fees, per venue and event and period, is read from
the ledger: it equals the platform fee accounts, period by period, refunds included;
its CSV says the same; the overview's gross is the sales the ledger holds."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.kit.clock import FixedClock
from tests.finance.world import build
from tests.platform.helpers import platform_admin_signed_in

NOVEMBER = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
Lines = dict[tuple[str, str | None], int]


def _ledger(database: Database, code: str, start: datetime, end: datetime) -> Lines:
    """Credits of accounts `code` (a LIKE pattern) by venue and event, from the ledger."""
    with database.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT t.venue_id, t.event_id, -sum(e.amount) FROM ledger_entries e "
            "JOIN ledger_transactions t ON t.id = e.transaction_id "
            "JOIN ledger_accounts a ON a.id = e.account_id "
            "WHERE a.code LIKE :c AND t.posted_at >= :s AND t.posted_at < :e "
            "GROUP BY t.venue_id, t.event_id"), {"c": code, "s": start, "e": end}).all()  # fmt: skip
    return {(str(v), e): int(amount) for v, e, amount in rows if amount}


def _page(client: TestClient, start: str, end: str) -> tuple[Lines, dict[str, int]]:
    page = client.get(f"/platform/statement?from={start}&to={end}")
    assert page.status_code == 200, page.text
    found = re.findall(r'<tr data-venue="([^"]+)" data-event="([^"]*)" data-amount="(-?\d+)">',
                       page.text)  # fmt: skip
    totals = re.findall(r'data-total="([A-Z]{3})" data-amount="(-?\d+)"', page.text)
    return ({(v, e or None): int(a) for v, e, a in found}, {c: int(a) for c, a in totals})


def test_the_statement_is_the_ledgers_platform_fee_account_per_period(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    rule: dict[str, Any] = {"platform_fee_bps": 500, "costs": [2000], "shares": [7000, 3000]}
    opera = build(client, database, clock, tiers=[(4500, 900, 300), (1950, 2100, None)],
                  title="La Traviata", venue_name="De Nederlandse Opera", **rule)  # fmt: skip
    ballet = build(client, database, clock, tiers=[(3500, 900, 300)], title="Giselle",
                   venue=opera.venue, **rule)  # fmt: skip
    jazz = build(client, database, clock, tiers=[(2500, 2100, None)], title="Jazz at noon",
                 venue_name="Bimhuis", platform_fee_bps=750, costs=[], shares=[10_000])  # fmt: skip
    for world, orders in ((opera, [[(0, 2)], [(1, 3)]]), (ballet, [[(0, 1)]]),
                          (jazz, [[(0, 4)], [(0, 1)]])):  # fmt: skip
        for lines in orders:
            world.buy(lines)
        reconcile_event(database, world.books, world.event["id"], NOVEMBER, period="2026-11")
    # In December: more sales of one event, and a refund of another (fees given back).
    opera.buy([(0, 1)])
    reconcile_event(database, opera.books, opera.event["id"], DECEMBER, period="2026-12")
    jazz.refund(jazz.orders[0], 2500)
    reconcile_event(database, jazz.books, jazz.event["id"], DECEMBER, period="2026-12")

    platform_admin_signed_in(client, database, settings, clock.now())
    nov = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    dec = (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    for (start, end), days in ((nov, ("2026-11-01", "2026-11-30")),
                               (dec, ("2026-12-01", "2026-12-31")),
                               ((nov[0], dec[1]), ("2026-11-01", "2026-12-31"))):  # fmt: skip
        ledger = _ledger(database, "platform_fees", start, end)
        shown, totals = _page(client, *days)
        assert shown == ledger, days
        assert totals == {"EUR": sum(ledger.values())}, days
    # December: the opera's fee grew, the refunded jazz gave part of its fee back.
    december = _ledger(database, "platform_fees", *dec)
    assert december[(opera.venue.id, opera.event["id"])] > 0
    assert december[(jazz.venue.id, jazz.event["id"])] < 0
    # Over both months each event's fee is what its statement says.
    both = _ledger(database, "platform_fees", nov[0], dec[1])
    for world in (opera, ballet, jazz):
        assert both[(world.venue.id, world.event["id"])] == world.statement()["platform_fee"]

    # The CSV export says the same, line by line.
    answer = client.get("/platform/statement.csv?from=2026-11-01&to=2026-12-31")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "platform-fees-2026-11-01-2026-12-31.csv" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert {(r["venue_id"], r["event_id"] or None): int(r["platform_fee"]) for r in rows} == both
    assert {r["event"] for r in rows} == {"La Traviata", "Giselle", "Jazz at noon"}

    # The overview: each venue's gross in November is the sales the ledger holds.
    sales = _ledger(database, "sales:%", *nov)
    overview = client.get("/platform?from=2026-11-01&to=2026-11-30").text
    fees = _ledger(database, "platform_fees", *nov)
    for venue_id in (opera.venue.id, jazz.venue.id):
        row = re.search(rf'data-venue="{venue_id}">.*?</tr>', overview, re.S)
        assert row, venue_id
        cells = re.findall(r'<td class="(gross|fees)"><span data-currency="EUR" '
                           r'data-amount="(-?\d+)"', row.group(0))  # fmt: skip
        gross = sum(amount for (v, _), amount in sales.items() if v == venue_id)
        fee = sum(amount for (v, _), amount in fees.items() if v == venue_id)
        assert gross > 0 and dict(cells) == {"gross": str(gross), "fees": str(fee)}
    # A venue's own page lists its events with their fees.
    venue_page = client.get(f"/platform/venues/{opera.venue.id}?from=2026-11-01&to=2026-12-31")
    assert venue_page.status_code == 200
    assert "La Traviata" in venue_page.text and "Giselle" in venue_page.text
    assert "Jazz at noon" not in venue_page.text


def test_a_period_that_is_not_one_is_said_beside_its_field(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    platform_admin_signed_in(client, database, settings, clock.now())
    page = client.get("/platform/statement?from=2026-12-31&to=2026-12-01")
    assert page.status_code == 200
    assert re.search(r'id="error-to"[^>]*>a date on or after the first day', page.text)
    assert client.get("/platform?from=yesterday").status_code == 200
    assert (
        'id="error-from" class="field-error" role="alert">a date such as'
        in client.get("/platform?from=yesterday").text
    )
    assert client.get("/platform/statement.csv?from=2026-12-31&to=2026-12-01").status_code == 422
