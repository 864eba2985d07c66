"""Finance exports: every column and every total of the JSON, CSV and XLSX exports of
splits worked out by hand (tests/finance/worked.py), and of the ledger; a month of
splits of every event of a venue, its totals equal to the ledger balances of the party
accounts and to the statements; a party's printable statement in Dutch and English."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import openpyxl  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from streamsvc.db import Database
from streamsvc.finance.export_files import safe_text
from streamsvc.finance.exports import COLUMNS, Row, Totals, as_dict
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.kit.clock import FixedClock
from tests.factories import make_venue
from tests.finance import worked
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


# Every column and every total, against the hand-worked splits and the ledger ----------

NAMES = [name for name, _ in COLUMNS]
WATERFALL = ("gross", "refunds", "disputes", "vat", "stripe_fees", "platform_fee", "costs",
             "pass_revenue", "distributable")  # fmt: skip
MONEY = (*WATERFALL, "party_amount")
EVENT_DATE = "2026-12-11"  # make_event: ten days after the clock's 1 December, Amsterdam
Scenario = Callable[[TestClient, Database, FixedClock], worked.Worked]


def _expected_rows(case: worked.Worked) -> list[dict[str, Any]]:
    """One row per split posting and party whose account the posting moved, ordered by
    posting, then by the party's account code (performer before venue); a posting that
    moved no party's account is one row without a party."""
    world, expected = case.world, []
    nobody = {"type": "", "id": "", "name": ""}
    for posting in case.postings:
        mine = []
        if not any(posting.parties):
            mine.append(_row(case, posting, nobody, 0, 0))
        for party, bps, amount in zip(world.parties, case.shares, posting.parties, strict=True):
            if not amount:  # no ledger entry, no row
                continue
            mine.append(_row(case, posting, party, bps, amount))
        expected += sorted(mine, key=lambda row: (row["party_type"], row["party_id"]))
    assert list(expected[0]) == NAMES
    return expected


def _row(
    case: worked.Worked, posting: Any, party: dict[str, str], bps: int, amount: int
) -> dict[str, Any]:
    world = case.world
    return {
        "venue": world.parties[0]["name"], "event_id": world.event["id"],
        "event_title": world.event["title"], "event_date": EVENT_DATE,
        "recording_id": "", "recording_title": "",
        "party_type": party["type"], "party_id": party["id"],
        "party_name": party["name"], "share_bps": bps,
        **{figure: _figure(posting, figure) for figure in WATERFALL},
        "party_amount": amount, "currency": "EUR", "split_rule_version": 1,
        "period": posting.period,
        "posted_at": posting.posted_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "ledger_reference": worked.posting_reference(case, posting),
    }  # fmt: skip


def _expected_totals(case: worked.Worked) -> dict[str, int]:
    """The waterfall of each posting counted once, however many parties it has (none
    included); the party amounts of every row."""
    totals = {figure: sum(_figure(p, figure) for p in case.postings) for figure in WATERFALL}
    return {**totals, "party_amount": sum(sum(p.parties) for p in case.postings)}


def _figure(posting: worked.Posting, figure: str) -> int:
    """A hand-worked posting's figure; these events sell no season pass (tests/passes/
    test_pass_exports.py checks the pass revenue column against the ledger)."""
    return 0 if figure == "pass_revenue" else int(getattr(posting, figure))


def _table_totals(table: worked.Table) -> dict[str, int]:
    """What an export of all of an event's splits must add up to: the event's whole
    waterfall as it stands."""
    return {"gross": table.gross, "refunds": table.refunds, "disputes": table.disputes,
            "vat": table.vat, "stripe_fees": table.stripe_fees,
            "platform_fee": table.platform_fee, "costs": sum(a for _, a in table.costs),
            "pass_revenue": 0, "distributable": table.distributable, "party_amount": sum(table.parties)}  # fmt: skip


def _euros(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _cents(value: Any) -> int:
    """A spreadsheet number in euros as cents, exactly (it must be a whole cent)."""
    cents = Decimal(str(value)) * 100
    assert cents == cents.to_integral_value(), value
    return int(cents)


def _whole_event(client: TestClient, case: worked.Worked, fmt: str) -> Any:
    return _get(client, case.world, format=fmt, event_id=case.world.event["id"],
                **{"from": "2026-11-01", "to": "2026-12-31"})  # fmt: skip


def _check_against_the_ledger(database: Database, data: list[dict[str, Any]]) -> None:
    """Each row's party amount, VAT, platform fee and costs are the entries of its split
    transaction on the party's, the VAT, the platform and the cost accounts."""
    for row in data:
        entries = worked.split_transactions(database, row["event_id"])[row["ledger_reference"]]
        party = f"payable:{row['party_type']}:{row['party_id']}" if row["party_id"] else None
        assert row["party_amount"] == (-entries[party] if party else 0)
        assert row["vat"] == -entries.get("vat_payable", 0)
        assert row["platform_fee"] == -entries.get("platform_fees", 0)
        assert row["costs"] == -sum(amount for code, amount in entries.items()
                                    if code.startswith("costs_recouped:"))  # fmt: skip


def _ledger_totals(database: Database, case: worked.Worked) -> dict[str, int]:
    """The event's ledger balances, named as the export's totals."""
    e, held = case.world.event["id"], worked.held(database, case.world.venue.id)
    vat, fee = -held.get("vat_payable", 0), -held.get("platform_fees", 0)
    costs = -sum(amount for code, amount in held.items() if code.startswith("costs_recouped:"))
    gross, refunds = -held.get(f"sales:{e}", 0), held.get(f"refunds:{e}", 0)
    disputes, fees = held.get(f"disputes:{e}", 0), held.get(f"stripe_fees:{e}", 0)
    paid = -sum(amount for code, amount in held.items() if code.startswith("payable:"))
    passes = -held.get(f"pass_revenue:{e}", 0)
    return {"gross": gross, "refunds": refunds, "disputes": disputes, "vat": vat,
            "stripe_fees": fees, "platform_fee": fee, "costs": costs, "pass_revenue": passes,
            "distributable": gross - refunds - disputes - vat - fees - fee - costs + passes,
            "party_amount": paid}  # fmt: skip


@pytest.mark.parametrize(
    "scenario",
    [worked.opera, worked.refund_after_split, worked.carried_loss],
    ids=["opera", "refund after split", "carried loss"],
)
def test_every_column_and_total_is_the_hand_worked_split(
    client: TestClient, database: Database, clock: FixedClock, scenario: Scenario
) -> None:
    """JSON, CSV and XLSX: every cell of every row is the hand-worked posting, and every
    total the postings' waterfalls counted once each plus every party's amount; the rows
    are the ledger's entries, and the totals are the event's whole hand-worked waterfall
    and its ledger balances."""
    case = scenario(client, database, clock)
    expected, totals = _expected_rows(case), _expected_totals(case)
    assert totals == _table_totals(case.tables[-1])

    as_json = _whole_event(client, case, "json").json()
    assert as_json["columns"] == NAMES
    assert as_json["data"] == expected
    assert as_json["totals"] == {"rows": len(expected), **totals, "currencies": ["EUR"]}
    _check_against_the_ledger(database, as_json["data"])
    assert totals == _ledger_totals(database, case)

    *data, total = list(csv.reader(io.StringIO(_whole_event(client, case, "csv").text)))
    assert data[0] == NAMES
    assert data[1:] == [
        [_euros(value) if name in MONEY else str(value) for name, value in row.items()]
        for row in expected
    ]
    assert total == [
        "TOTAL" if name == "venue" else _euros(totals[name]) if name in MONEY
        else "EUR" if name == "currency" else "" for name in NAMES
    ]  # fmt: skip

    book = openpyxl.load_workbook(io.BytesIO(_whole_event(client, case, "xlsx").content),
                                  read_only=True)  # fmt: skip
    header, *sheet = list(book["Splits"].iter_rows(values_only=True))
    assert list(header) == NAMES
    assert [{name: _cents(value) if name in MONEY else value
             for name, value in zip(NAMES, row, strict=True)} for row in sheet] == expected  # fmt: skip
    figures = list(book["Totals"].iter_rows(values_only=True))
    assert figures[:2] == [("figure", "total", "currency"), ("rows", len(expected), None)]
    assert {name: (_cents(value), currency) for name, value, currency in figures[2:]} == {
        name: (totals[name], "EUR") for name in MONEY
    }


def test_a_split_that_pays_nobody_still_counts_in_the_export(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    """The carried loss's second split pays nobody (it repays the loss) but posts VAT,
    a platform fee and a cost: it is a row without a party, counted in the totals."""
    case = worked.carried_loss(client, database, clock)
    export = _whole_event(client, case, "json").json()
    totals = export["totals"]
    unpaid = [row for row in export["data"] if row["party_id"] == ""]
    assert [(row["party_amount"], row["vat"], row["costs"]) for row in unpaid] == [(0, 694, 1280)]
    assert _ledger_totals(database, case) == _table_totals(case.tables[-1])
    assert {name: totals[name] for name in MONEY} == _table_totals(case.tables[-1])


# The rows' arithmetic alone, without a database ----------------------------------------


def _posting_row(reference: str, party: str, party_amount: int, figures: tuple[int, ...]) -> Row:
    """A row as `exports.rows` yields it: the posting's waterfall (the same on each of its
    rows) and one party's amount."""
    values: dict[str, Any] = dict.fromkeys(NAMES, "")
    values.update(zip(WATERFALL, figures, strict=True))
    values.update(party_id=party, party_amount=party_amount, currency="EUR",
                  ledger_reference=reference)  # fmt: skip
    return tuple(values[name] for name in NAMES)


def test_totals_count_a_postings_waterfall_once_and_every_party_amount() -> None:
    first = (10_000, 500, 0, 800, 300, 400, 1000, 0, 7000)
    second = (2000, 0, 100, 150, 60, 80, 0, 500, 2110)
    rows = [_posting_row("split:a", "prf_1", 4200, first),
            _posting_row("split:a", "ven_1", 2800, first),
            _posting_row("split:b", "ven_1", 2110, second)]  # fmt: skip
    totals = Totals()
    # True: this row starts another posting (the CSV writes its waterfall from it).
    assert [totals.add(row) for row in rows] == [True, False, True]
    assert totals.rows == 3 and totals.currencies == {"EUR"}
    assert totals.sums == {
        **{name: a + b for name, a, b in zip(WATERFALL, first, second, strict=True)},
        "party_amount": 4200 + 2800 + 2110,
    }


# mutant streamsvc.finance.exports.xǁTotalsǁ__init____mutmut_10: `""` for None as the
#   reference before the first row: a split's ledger reference is never empty
#   ("split:…"), so the first row starts a posting either way.
# mutant streamsvc.finance.exports.xǁTotalsǁadd__mutmut_14: `strict=None` in
#   zip(WATERFALL, _WATERFALL_AT): both are module constants of one length, built from
#   the same names at import, so strict or not the pairs are the same.
# mutant streamsvc.finance.exports.xǁTotalsǁadd__mutmut_17: as _14, strict left out.
# mutant streamsvc.finance.exports.xǁTotalsǁadd__mutmut_18: as _14, `strict=False`.


# mutant streamsvc.finance.exports.x_params__mutmut_5: rpartition for partition of the party
#   filter: the route admits only "venue:<id>" or "performer:<id>", ids without a colon,
#   so both split at the one colon there is.
# mutant streamsvc.finance.exports.x_params__mutmut_7: the middle of the partition, which
#   is thrown away, made "XXXX".
# mutant streamsvc.finance.exports.x_rows__mutmut_5: yield_per None for 5000: the same
#   rows, fetched at once instead of 5000 at a time; only memory shows it, which `make
#   bench` guards (bench/exports.py: the peak RSS of a million-row JSON export).
# mutant streamsvc.finance.exports.x_rows__mutmut_6: yield_per 5001: a batch size.


def test_a_row_is_named_column_by_column_and_must_fit_the_columns() -> None:
    row = _posting_row("split:a", "prf_1", 4200, (1, 2, 3, 4, 5, 6, 7, 8, 9))
    named = as_dict(row)
    assert list(named) == NAMES and named["party_amount"] == 4200 and named["costs"] == 7
    # A query and COLUMNS out of step would shift every figure: refused, not mislabelled.
    for wrong in (row[:-1], (*row, "extra")):
        with pytest.raises(ValueError):
            as_dict(wrong)


# Exports safe to open: no cell a spreadsheet would run as a formula ---------------------

HOSTILE_NAME = '=HYPERLINK("http://example.org","x")'
HOSTILE_TITLE = "+SUM(1,1)"


def test_text_that_looks_like_a_formula_is_quoted_and_amounts_stay_numbers(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    """A performer named like a formula and an event titled like one: in CSV and XLSX
    their cells start with a quote and no cell is a formula, while every amount, a
    negative refund's too, is still a number adding up to the ledger."""
    world = build(client, database, clock, tiers=[(4500, 900, 500)], platform_fee_bps=500,
                  costs=[2000], shares=[5000, 5000], title=HOSTILE_TITLE)  # fmt: skip
    performer = world.parties[1]
    renamed = client.patch(f"/v1/performers/{performer['id']}", json={"name": HOSTILE_NAME},
                           headers=world.venue.headers)  # fmt: skip
    assert renamed.status_code == 200, renamed.text
    for lines in ([(0, 2)], [(0, 1)]):
        world.buy(lines)
    reconcile_event(database, world.books, world.event["id"], NOVEMBER, period="2026-11")
    world.refund(world.orders[0], 9000)  # the whole first order: a negative waterfall
    reconcile_event(database, world.books, world.event["id"], MIDNIGHT, period="2026-12")
    period = {"from": "2026-11-01", "to": "2026-12-31"}
    paid = _ledger_parties(database, world.venue.id, datetime(2026, 11, 1, tzinfo=UTC),
                           datetime(2027, 1, 1, tzinfo=UTC))  # fmt: skip

    *data, total = list(csv.DictReader(io.StringIO(_get(client, world, format="csv",
                                                        **period).text)))  # fmt: skip
    assert {row["event_title"] for row in data} == {"'" + HOSTILE_TITLE}
    names = {row["party_name"] for row in data}
    assert "'" + HOSTILE_NAME in names and HOSTILE_NAME not in names
    assert any(row["party_amount"].startswith("-") for row in data)  # the refund's split
    assert sum(_cents(row["party_amount"]) for row in data) == paid
    assert _cents(total["party_amount"]) == paid

    book = openpyxl.load_workbook(io.BytesIO(_get(client, world, format="xlsx",
                                                  **period).content))  # fmt: skip
    sheet = book["Splits"]
    header = [cell.value for cell in sheet[1]]
    cells = [dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)]
    assert all(cell.data_type != "f" for row in cells for cell in row.values())
    assert {row["event_title"].value for row in cells} == {"'" + HOSTILE_TITLE}
    assert "'" + HOSTILE_NAME in {row["party_name"].value for row in cells}
    amounts = [row["party_amount"] for row in cells]
    assert all(cell.data_type == "n" for cell in amounts)
    assert any(cell.value < 0 for cell in amounts)
    assert sum(_cents(cell.value) for cell in amounts) == paid
    assert paid > 0


def test_every_formula_start_is_neutralised_and_other_text_is_not() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert safe_text(f"{start}1+1") == f"'{start}1+1"
    assert safe_text("La Traviata") == "La Traviata" and safe_text("") == ""
    assert safe_text("a=b") == "a=b"
