"""An archive recording's money in the exports and the statements, as an event's: its
split rows (recording columns filled, event columns empty) with its rights holders as
parties, its statement's waterfall, and each rights holder's statement with the
recording's plays and money; every figure worked out by hand.

The archive (tests/recordings/money.py): rental €4.99, purchase €12.99, both at 21 %
VAT; the platform takes 5 % of revenue ex VAT; €20.00 of restoration is recouped
before the shares; the estate 50 %, the label 30 %, the venue 20 %. Stripe's card fee
is 25 + 1.5 % (rounded down) per charge; a refund's fee is 0 and Stripe keeps the
charge's fee.

Three rentals and two purchases, by hand. Gross 3 x 499 + 2 x 1299 = 4095. VAT per
order, price x 21/121 to the larger remainder: 86.60 -> 87 and 225.45 -> 225, so
3 x 87 + 2 x 225 = 711; revenue ex VAT 3384. Fees 3 x (25 + 7) + 2 x (25 + 19) = 184.
Platform 5 % of 3384 = 169.2 -> 169. Left 3384 - 184 - 169 = 3031; restoration 2000
recouped; distributable 1031: 515.5 / 309.3 / 206.2 -> 515 / 309 / 206, and the cent
left goes to the largest remainder, the estate's: 516 / 309 / 206.

Then one rental refunded whole, in January. Its order keeps nothing: VAT 2 x 87 +
2 x 225 = 624; revenue ex VAT 4095 - 499 - 624 = 2972; fees still 184; platform 5 % of
2972 = 148.6 -> 149; left 2972 - 184 - 149 = 2639; restoration 2000; distributable 639:
319.5 / 191.7 / 127.8 -> 319 / 191 / 127 and the two cents left to the largest
remainders, the venue's (.8) and the label's (.7): 319 / 192 / 128. January's split
posts the change: refunds +499, VAT -87, platform -20, distributable -392, and the
parties -197 / -117 / -78.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.finance.exports import COLUMNS
from streamsvc.kit.clock import FixedClock
from streamsvc.recordings.access import RecordingAccess
from tests.conftest import RecordingQueue
from tests.console.helpers import form_token
from tests.factories import VenueHandle, bearer, make_venue, ok
from tests.harness import Infrastructure
from tests.recordings.helpers import make_holder
from tests.recordings.money import Archive, open_archive
from tests.staff.helpers import admin_signed_in, member_signed_in

NAMES = [name for name, _ in COLUMNS]
TITLE = "Bill Evans Trio, live at the Bimhuis"  # tests/recordings/helpers.py
DECEMBER = {"from": "2026-12-01", "to": "2026-12-31"}
BOTH_MONTHS = {"from": "2026-12-01", "to": "2027-01-31"}
# The waterfall of December's split (the module docstring).
SOLD = {"gross": 4095, "refunds": 0, "disputes": 0, "vat": 711, "stripe_fees": 184,
        "platform_fee": 169, "costs": 2000, "pass_revenue": 0, "distributable": 1031}  # fmt: skip
# January's split: the change the refund made.
REFUNDED = {"gross": 0, "refunds": 499, "disputes": 0, "vat": -87, "stripe_fees": 0,
            "platform_fee": -20, "costs": 0, "pass_revenue": 0, "distributable": -392}  # fmt: skip


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    settings: Settings = infra.settings(recording_paid_sales=True)
    return settings


def _sold(archive: Archive) -> Archive:
    for kind in ("rental", "rental", "rental", "purchase", "purchase"):
        archive.sell(kind)
    archive.reconcile("2026-12")
    return archive


@pytest.fixture
def archive(client: TestClient, database: Database, clock: FixedClock) -> Archive:
    """Three rentals and two purchases, split in December (2026-12-01 12:00 UTC)."""
    return _sold(open_archive(client, database, clock))


def _splits(client: TestClient, archive: Archive, **params: Any) -> Any:
    answer = client.get("/v1/finance/splits", params=params, headers=archive.venue.headers)
    assert answer.status_code == 200, answer.text
    return answer


def _parties(archive: Archive) -> list[tuple[str, str, str, int]]:
    """(type, id, name, bps) of each party, in the export's order: by account code, so
    the rights holders (by id) before the venue."""
    holders = sorted([("rights_holder", archive.estate["id"], "Estate of Bill Evans", 5000),
                      ("rights_holder", archive.label["id"], "Riverside Records", 3000)])  # fmt: skip
    return [*holders, ("venue", archive.venue.id, "De Nederlandse Opera", 2000)]


def _row(archive: Archive, party: tuple[str, str, str, int], amount: int,
         waterfall: dict[str, int], period: str, posted_at: str) -> dict[str, Any]:  # fmt: skip
    kind, party_id, name, bps = party
    recording_id = archive.recording["id"]
    return {
        "venue": "De Nederlandse Opera", "event_id": "", "event_title": "", "event_date": "",
        "recording_id": recording_id, "recording_title": TITLE,
        "party_type": kind, "party_id": party_id, "party_name": name, "share_bps": bps,
        **waterfall, "party_amount": amount, "currency": "EUR", "split_rule_version": 1,
        "period": period, "posted_at": posted_at,
        "ledger_reference": f"split:{recording_id}:v1:{period}",
    }  # fmt: skip


def _parts(archive: Archive, estate: int, label: int, venue: int) -> list[int]:
    """The parties' amounts in `_parties` order."""
    by_id = {archive.estate["id"]: estate, archive.label["id"]: label, archive.venue.id: venue}
    return [by_id[party_id] for _, party_id, _, _ in _parties(archive)]


def test_a_recordings_split_is_one_row_per_rights_holder_worked_out_by_hand(
    client: TestClient, archive: Archive
) -> None:
    december = "2026-12-01T12:00:00.000000Z"
    expected = [_row(archive, party, amount, SOLD, "2026-12", december) for party, amount
                in zip(_parties(archive), _parts(archive, 516, 309, 206), strict=True)]  # fmt: skip
    assert list(expected[0]) == NAMES
    export = _splits(client, archive, recording_id=archive.recording["id"], **DECEMBER).json()
    assert export["columns"] == NAMES
    assert NAMES[NAMES.index("event_date") + 1 :][:2] == ["recording_id", "recording_title"]
    assert export["data"] == expected
    assert export["totals"] == {"rows": 3, **SOLD, "party_amount": 1031, "currencies": ["EUR"]}
    # The venue's whole export has the same rows; one rights holder's, its own.
    assert _splits(client, archive, **DECEMBER).json()["data"] == expected
    estate = f"rights_holder:{archive.estate['id']}"
    mine = _splits(client, archive, party=estate, **DECEMBER).json()
    assert [(r["party_name"], r["party_amount"]) for r in mine["data"]] == [
        ("Estate of Bill Evans", 516)]  # fmt: skip
    # An event filter leaves the recording out.
    assert _splits(client, archive, event_id="evt_none", **DECEMBER).json()["data"] == []

    # The CSV: the same cells, in euros, and its TOTAL row.
    as_csv = _splits(client, archive, format="csv", recording_id=archive.recording["id"],
                     **DECEMBER).text  # fmt: skip
    header, *rows, total = list(csv.reader(io.StringIO(as_csv)))
    assert header == NAMES
    named = [dict(zip(NAMES, row, strict=True)) for row in rows]
    assert [(r["event_id"], r["recording_title"], r["party_name"], r["party_amount"])
            for r in named] == [("", TITLE, name, euros) for (_, _, name, _), euros in zip(
                _parties(archive), [f"{c / 100:.2f}" for c in _parts(archive, 516, 309, 206)],
                strict=True)]  # fmt: skip
    assert {r["distributable"] for r in named} == {"10.31"}
    assert total[NAMES.index("party_amount")] == "10.31" and total[0] == "TOTAL"


def test_a_refund_after_the_split_takes_back_in_the_next_month(
    client: TestClient, archive: Archive, clock: FixedClock
) -> None:
    clock.advance(days=40)  # 10 January 2027
    archive.refund(archive.orders[0], 499)
    archive.reconcile("2027-01")
    january = "2027-01-10T12:00:00.000000Z"
    export = _splits(client, archive, recording_id=archive.recording["id"], **BOTH_MONTHS).json()
    assert export["data"][3:] == [
        _row(archive, party, amount, REFUNDED, "2027-01", january) for party, amount
        in zip(_parties(archive), _parts(archive, -197, -117, -78), strict=True)
    ]  # fmt: skip
    # Each posting's waterfall counted once: the recording's waterfall as it stands.
    assert export["totals"] == {
        "rows": 6, "gross": 4095, "refunds": 499, "disputes": 0, "vat": 624,
        "stripe_fees": 184, "platform_fee": 149, "costs": 2000, "pass_revenue": 0,
        "distributable": 639, "party_amount": 639, "currencies": ["EUR"],
    }  # fmt: skip
    # The recording's statement reads the same from the ledger.
    statement = ok(client.get(f"/v1/finance/recordings/{archive.recording['id']}/statement",
                              headers=archive.venue.headers))  # fmt: skip
    assert (statement["gross"], statement["refunds"], statement["vat"], statement["platform_fee"],
            statement["distributable"], statement["undistributed"]) == (4095, 499, 624, 149,
                                                                        639, 0)  # fmt: skip
    assert {p["party"]["id"]: p["amount"] for p in statement["parties"]} == {
        archive.estate["id"]: 319, archive.label["id"]: 192, archive.venue.id: 128}  # fmt: skip


def test_the_recordings_statement_is_its_waterfall_and_parties(
    client: TestClient, archive: Archive
) -> None:
    url = f"/v1/finance/recordings/{archive.recording['id']}/statement"
    statement = ok(client.get(url, headers=archive.venue.headers))
    statement.pop("split_at")
    assert statement == {
        "recording_id": archive.recording["id"], "currency": "EUR", "gross": 4095,
        "refunds": 0, "disputes": 0, "vat": 711, "vat_rates": [{"rate_bps": 2100, "vat": 711}],
        "pass_revenue": 0, "pass_fees": 0, "revenue_ex_vat": 3384, "stripe_fees": 184,
        "platform_fee": 169, "costs": [{"label": "Restoration", "amount": 2000}],
        "distributable": 1031,
        "parties": [
            {"party": {"type": "rights_holder", "id": archive.estate["id"]}, "bps": 5000,
             "amount": 516},
            {"party": {"type": "rights_holder", "id": archive.label["id"]}, "bps": 3000,
             "amount": 309},
            {"party": {"type": "venue", "id": archive.venue.id}, "bps": 2000, "amount": 206},
        ],
        "undistributed": 0,
    }  # fmt: skip
    other = make_venue(client, name="Another House")
    assert client.get(url, headers=other.headers).status_code == 404
    missing = client.get("/v1/finance/recordings/rec_none/statement",
                         headers=archive.venue.headers)  # fmt: skip
    assert missing.status_code == 404


def _play(client: TestClient, database: Database, order: dict[str, Any], device: str) -> None:
    """Redeem the order's access on a device, as a player does."""
    with database.unit_of_work() as uow:
        code = uow.session.exec(select(RecordingAccess.code)
                                .where(RecordingAccess.order_id == order["id"])).one()  # fmt: skip
    started = client.post(f"/v1/recordings/access/{code}/sessions", json={"device_id": device})
    assert started.status_code == 201, started.text


def _cell(page: str, cell_id: str) -> str:
    """The text of the page's cell with this id, its markup left out."""
    found = re.search(rf'id="{cell_id}"[^>]*>(.*?)</t[dh]>', page, re.S)
    assert found, cell_id
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def _statement(client: TestClient, archive: Archive, party_type: str, party_id: str,
               **period: str) -> Any:  # fmt: skip
    return client.get(f"/v1/finance/parties/{party_type}/{party_id}/statement",
                      params={**period, "lang": "en"}, headers=archive.venue.headers)  # fmt: skip


def test_each_rights_holders_statement_lists_the_plays_and_its_part(
    client: TestClient, database: Database, archive: Archive
) -> None:
    rentals, purchases = archive.orders[:3], archive.orders[3:]
    _play(client, database, rentals[0], "tv")
    _play(client, database, rentals[1], "tv")
    _play(client, database, rentals[1], "phone")  # the same rental on a second device
    _play(client, database, rentals[1], "tv")  # the same device again that day: no new play
    _play(client, database, purchases[0], "tv")  # a purchase's plays count as a rental's
    rec = archive.recording["id"]

    parts = {}
    for party_type, party_id, name in (
        ("rights_holder", archive.estate["id"], "Estate of Bill Evans"),
        ("rights_holder", archive.label["id"], "Riverside Records"),
        ("venue", archive.venue.id, "De Nederlandse Opera"),
    ):
        page = _statement(client, archive, party_type, party_id, **DECEMBER)
        assert page.status_code == 200, page.text
        assert f"Statement for {name}" in page.text
        assert _cell(page.text, f"plays-{rec}") == "4"  # 3 devices of 2 rentals, 1 purchase
        assert _cell(page.text, f"distributable-{rec}") == "EUR 10.31"
        assert "Plays: the devices that started the recording in the period" in page.text
        assert f"<td>{TITLE}</td>" in page.text  # the split row, titled as an event's
        parts[name] = _cell(page.text, f"part-{rec}")
        assert _cell(page.text, "total-party_amount") == parts[name]
    assert parts == {"Estate of Bill Evans": "EUR 5.16", "Riverside Records": "EUR 3.09",
                     "De Nederlandse Opera": "EUR 2.06"}  # 516 + 309 + 206 = 1031  # fmt: skip
    estate = _statement(client, archive, "rights_holder", archive.estate["id"], **DECEMBER).text
    assert '<th align="left" scope="col">Recording</th>' in estate
    assert 'scope="col">Date<' not in estate  # a recording has no date there

    # November: nothing split, nothing played.
    november = _statement(client, archive, "rights_holder", archive.estate["id"],
                          **{"from": "2026-11-01", "to": "2026-11-30"})  # fmt: skip
    assert f"plays-{rec}" not in november.text
    assert "Nothing was split in this period." in november.text


def test_plays_without_money_in_the_period_still_show(
    client: TestClient, database: Database, archive: Archive, clock: FixedClock
) -> None:
    """A rental first played on 21 December, after the month's split: the recording is on
    the statement of the second half of December with its play and no money."""
    clock.advance(days=20)  # within the rental's 30 days to start
    _play(client, database, archive.orders[2], "tv")
    page = _statement(client, archive, "rights_holder", archive.label["id"],
                      **{"from": "2026-12-15", "to": "2026-12-31"})  # fmt: skip
    rec = archive.recording["id"]
    assert _cell(page.text, f"plays-{rec}") == "1"
    assert _cell(page.text, f"distributable-{rec}") == "EUR 0.00"
    assert _cell(page.text, f"part-{rec}") == "EUR 0.00"
    assert "Nothing was split in this period." in page.text


def test_another_venues_rights_holder_has_no_statement_here(
    client: TestClient, archive: Archive
) -> None:
    other = make_venue(client, name="Another House")
    theirs = make_holder(client, other, "Their Estate")
    assert _statement(client, archive, "rights_holder", theirs["id"]).status_code == 404
    assert _statement(client, archive, "rights_holder", "rhd_unknown").status_code == 404
    # Nor is ours theirs.
    mine = client.get(f"/v1/finance/parties/rights_holder/{archive.estate['id']}/statement",
                      headers=other.headers)  # fmt: skip
    assert mine.status_code == 404
    answer = client.get("/v1/finance/splits", params={"party": f"rights_holder:{theirs['id']}"},
                        headers=archive.venue.headers)  # fmt: skip
    assert answer.status_code == 200 and answer.json()["data"] == []


def test_the_console_exports_a_recording_and_opens_a_rights_holders_statement(
    client: TestClient, queue: RecordingQueue, database: Database, settings: Settings,
    clock: FixedClock,
) -> None:  # fmt: skip
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    venue = VenueHandle(admin.venue_id, admin.key, bearer(admin.key))
    archive = _sold(open_archive(client, database, clock, venue))
    rec, estate = archive.recording["id"], archive.estate["id"]
    finance = member_signed_in(client, queue, database, settings, clock.now(),
                               "fred@example.org", "finance")  # fmt: skip
    page = finance.get("/console/finance/exports")
    assert page.status_code == 200
    assert f'<option value="{rec}">{TITLE}</option>' in page.text
    assert f'<option value="rights_holder:{estate}">Estate of Bill Evans</option>' in page.text

    def export(**fields: str) -> Any:
        body = {"csrf_token": form_token(page.text), **DECEMBER, "format": "json", **fields}
        return finance.post("/console/finance/exports", data=body, follow_redirects=False)

    found = export(recording=rec, party=f"rights_holder:{estate}")
    assert found.status_code == 200, found.text
    assert [(r["recording_id"], r["party_name"], r["party_amount"])
            for r in found.json()["data"]] == [(rec, "Estate of Bill Evans", 516)]  # fmt: skip
    refused = export(recording="rec_elsewhere")
    assert refused.status_code == 422
    assert re.search(r'id="error-recording"[^>]*>not a recording of this venue<', refused.text)

    link = finance.get("/console/finance/statement", params={
        "party": f"rights_holder:{estate}", **DECEMBER, "as": "html"}, follow_redirects=False)  # fmt: skip
    assert link.status_code == 303
    statements = "/console/finance/statements/rights_holder"
    assert link.headers["location"].startswith(f"{statements}/{estate}.html?")
    statement = finance.get(link.headers["location"])
    assert statement.status_code == 200, statement.text
    assert "Statement for Estate of Bill Evans" in statement.text
    assert _cell(statement.text, f"part-{rec}") == "EUR 5.16"
    theirs = make_holder(client, make_venue(client, name="Another House"), "Their Estate")
    assert finance.get(f"{statements}/{theirs['id']}.html").status_code == 404

    # The finance overview lists the recording's money beside the events': gross 4095,
    # distributable 1031, all of it shared (516 + 309 + 206).
    overview = finance.get("/console/finance").text
    table = overview.split('id="finance-recordings"')[1].split("</table>")[0]
    assert f'<a href="/console/recordings/{rec}">{TITLE}</a>' in table
    cells = re.findall(r'<td class="number">([^<]*)</td>', table)
    assert cells == ["€40.95", "€10.31", "€10.31"]
