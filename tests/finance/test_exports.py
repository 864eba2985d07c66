"""Finance exports: a month of splits of every event of a venue, as CSV, XLSX and JSON,
read from the ledger: their totals equal the ledger balances of the party accounts and
the statements; a party's printable statement in Dutch and English."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import openpyxl  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from streamsvc.db import Database
from streamsvc.finance.exports import COLUMNS
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.kit.clock import FixedClock
from tests.factories import make_venue
from tests.finance.world import World, build

NOVEMBER = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
# 00:30 on 1 December in Amsterdam: December for the venue, though still November in UTC.
MIDNIGHT = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)


@pytest.fixture
def season(client: TestClient, database: Database, clock: FixedClock) -> tuple[World, World]:
    """Two events of one venue, split in November; one refund split just after midnight."""
    rule: dict[str, Any] = {"platform_fee_bps": 500, "costs": [2000], "shares": [4000, 3000, 3000]}
    opera = build(client, database, clock, tiers=[(4500, 900, 500), (1950, 2100, None)],
                  title="La Traviata", **rule)  # fmt: skip
    ballet = build(client, database, clock, tiers=[(3500, 900, 500), (1500, 2100, None)],
                   venue=opera.venue, title="Giselle", **rule)  # fmt: skip
    for world in (opera, ballet):
        for lines in ([(0, 2)], [(1, 1)], [(0, 1), (1, 3)], [(1, 2)]):
            world.buy(lines)
        reconcile_event(database, world.books, world.event["id"], NOVEMBER, period="2026-11")
    opera.refund(opera.orders[0], 4500)
    reconcile_event(database, opera.books, opera.event["id"], MIDNIGHT, period="2026-12")
    return opera, ballet


def _get(client: TestClient, world: World, **params: Any) -> Any:
    response = client.get("/v1/finance/splits", params=params, headers=world.venue.headers)
    assert response.status_code == 200, response.text
    return response


def _ledger_parties(database: Database, venue_id: str, since: datetime, until: datetime) -> int:
    """What the party accounts received from splits posted in [since, until)."""
    with database.engine.connect() as conn:
        return -int(conn.execute(text(
            "SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e "
            "JOIN ledger_transactions t ON t.id = e.transaction_id "
            "JOIN ledger_accounts a ON a.id = e.account_id "
            "WHERE t.venue_id = :v AND starts_with(a.code, 'payable:') "
            "AND t.posted_at >= :s AND t.posted_at < :u"
        ), {"v": venue_id, "s": since, "u": until}).scalar_one())  # fmt: skip


def test_a_month_of_splits_as_csv_ties_out_with_ledger_and_statements(
    client: TestClient, database: Database, season: tuple[World, World]
) -> None:
    opera, ballet = season
    body = _get(client, opera, **{"from": "2026-11-01", "to": "2026-11-30", "format": "csv"})
    assert body.headers["content-type"].startswith("text/csv")
    assert 'filename="splits-2026-11-01-2026-11-30.csv"' in body.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(body.text)))
    *data, total = table
    assert list(table[0]) == [name for name, _ in COLUMNS]
    assert {(r["event_title"], r["party_type"]) for r in data} == {
        (title, kind) for title in ("La Traviata", "Giselle")
        for kind in ("venue", "performer")}  # fmt: skip
    assert len(data) == 6  # two events, three parties each; the refund is December's
    cents = sum(Decimal(r["party_amount"]) for r in data) * 100
    assert total["venue"] == "TOTAL" and Decimal(total["party_amount"]) * 100 == cents
    since = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # 1 November, Amsterdam
    assert cents == _ledger_parties(database, opera.venue.id, since, MIDNIGHT)
    # Over all periods, each party's rows add up to what the event statement says.
    everything = list(csv.DictReader(io.StringIO(_get(client, opera, format="csv").text)))[:-1]
    for world in (opera, ballet):
        for party in world.statement()["parties"]:
            rows = [r for r in everything if r["event_id"] == world.event["id"]
                    and r["party_id"] == party["party"]["id"]]  # fmt: skip
            assert sum(Decimal(r["party_amount"]) * 100 for r in rows) == party["amount"]
    first = data[0]
    assert first["currency"] == "EUR" and first["split_rule_version"] == "1"
    assert first["ledger_reference"].startswith("split:") and first["period"] == "2026-11"
    assert int(first["share_bps"]) in (4000, 3000)


def test_the_venue_timezone_decides_the_month(
    client: TestClient, season: tuple[World, World]
) -> None:
    opera, _ = season
    december = _get(client, opera, **{"from": "2026-12-01", "to": "2026-12-31"}).json()
    assert {row["period"] for row in december["data"]} == {"2026-12"}
    assert all(row["party_amount"] < 0 for row in december["data"])  # the refund takes back
    assert december["totals"]["party_amount"] == sum(r["party_amount"] for r in december["data"])
    november = _get(client, opera, **{"from": "2026-11-30", "to": "2026-11-30"}).json()
    assert november["data"] == []


def test_xlsx_opens_with_the_same_numbers(client: TestClient, season: tuple[World, World]) -> None:
    opera, _ = season
    as_json = _get(client, opera).json()
    body = _get(client, opera, format="xlsx")
    assert body.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(body.content), read_only=True)
    splits = list(book["Splits"].iter_rows(values_only=True))
    assert list(splits[0]) == [name for name, _ in COLUMNS]
    column = [name for name, _ in COLUMNS].index("party_amount")
    amounts = [round(Decimal(str(row[column])) * 100) for row in splits[1:]]
    assert amounts == [row["party_amount"] for row in as_json["data"]]
    totals = {row[0]: row[1] for row in book["Totals"].iter_rows(min_row=2, values_only=True)}
    assert totals["rows"] == len(as_json["data"])
    assert round(Decimal(str(totals["party_amount"])) * 100) == as_json["totals"]["party_amount"]


def test_csv_for_dutch_excel(client: TestClient, season: tuple[World, World]) -> None:
    opera, _ = season
    body = _get(client, opera, format="csv", delimiter="semicolon", bom="true").content
    assert body.startswith("\ufeff".encode())
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("venue;event_id;event_title")
    row = next(csv.DictReader(io.StringIO("\n".join(lines)), delimiter=";"))
    assert "," in row["gross"] and "." not in row["gross"]  # decimal comma


def test_filters_by_event_and_party(client: TestClient, season: tuple[World, World]) -> None:
    opera, ballet = season
    only = _get(client, opera, event_id=ballet.event["id"]).json()["data"]
    assert {row["event_id"] for row in only} == {ballet.event["id"]}
    party = opera.statement()["parties"][1]["party"]
    mine = _get(client, opera, party=f"{party['type']}:{party['id']}").json()["data"]
    assert {row["party_id"] for row in mine} == {party["id"]} and len(mine) == 2


@pytest.mark.parametrize(
    "params",
    [{"from": "2026-12-02", "to": "2026-12-01"}, {"party": "nobody"}, {"format": "pdf"},
     {"from": "yesterday"}, {"colour": "red"}],
)  # fmt: skip
def test_bad_filters_are_named(client: TestClient, season: tuple[World, World],
                               params: dict[str, str]) -> None:  # fmt: skip
    opera, _ = season
    answer = client.get("/v1/finance/splits", params=params, headers=opera.venue.headers)
    assert answer.status_code == 422 and answer.json()["error"]["fields"]


def test_a_performer_statement_in_dutch_and_english(
    client: TestClient, season: tuple[World, World]
) -> None:
    opera, _ = season
    performer = opera.statement()["parties"][1]
    url = f"/v1/finance/parties/performer/{performer['party']['id']}/statement"
    period = {"from": "2026-11-01", "to": "2026-12-31"}
    dutch = client.get(url, params=period, headers={**opera.venue.headers,
                                                    "Accept-Language": "nl-NL"})  # fmt: skip
    assert dutch.status_code == 200 and dutch.headers["content-type"].startswith("text/html")
    assert "Afrekening voor" in dutch.text and "Uw deel" in dutch.text and 'lang="nl"' in dutch.text
    total = sum(r["party_amount"] for r in _get(
        client, opera, party=f"performer:{performer['party']['id']}", **period).json()["data"])  # fmt: skip
    euros, cents = divmod(total, 100)
    assert f"EUR {euros:,}".replace(",", ".") + f",{cents:02d}" in dutch.text
    english = client.get(url, params={**period, "lang": "en"}, headers=opera.venue.headers)
    assert "Statement for" in english.text and f"EUR {euros:,}.{cents:02d}" in english.text
    venue = client.get(f"/v1/finance/parties/venue/{opera.venue.id}/statement",
                       headers=opera.venue.headers)  # fmt: skip
    assert venue.status_code == 200 and "La Traviata" in venue.text
    for missing in ("performer/prf_unknown", "venue/ven_other", "sponsor/x"):
        answer = client.get(f"/v1/finance/parties/{missing}/statement", headers=opera.venue.headers)
        assert answer.status_code == 404


def test_another_venue_sees_none_of_it(client: TestClient, season: tuple[World, World]) -> None:
    opera, _ = season
    other = make_venue(client, name="Another House")
    for fmt in ("json", "csv"):
        answer = client.get("/v1/finance/splits", params={"format": fmt}, headers=other.headers)
        assert answer.status_code == 200
        assert opera.event["id"] not in answer.text and opera.venue.id not in answer.text
    assert client.get("/v1/finance/splits", headers=other.headers).json()["data"] == []


def test_a_finance_key_exports(client: TestClient, season: tuple[World, World]) -> None:
    opera, _ = season
    made = client.post("/v1/api-keys", json={"role": "finance", "label": "accounts"},
                       headers=opera.venue.headers)  # fmt: skip
    assert made.status_code == 201, made.text
    finance = {"Authorization": f"Bearer {made.json()['key']}"}
    answer = client.get("/v1/finance/splits", params={"format": "csv"}, headers=finance)
    assert answer.status_code == 200 and "La Traviata" in answer.text
