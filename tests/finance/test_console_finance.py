"""The finance console (/console/finance) over HTTP, with signed-in console sessions:
the waterfall's figures are the statement service's, party balances the ledger's; door
staff see nothing; the export form downloads CSV, XLSX and JSON whose totals equal the
ledger, each download audit-logged; a large XLSX export runs as a job (the Celery task
run in-process) whose link downloads and then expires (410); a reconciliation starts
from the page; acknowledging a finding writes the audit entry and leaves the ledger
exactly as it was."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import openpyxl  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.audit.models import AuditEntry
from streamsvc.db import Database
from streamsvc.finance.findings import record_finding
from streamsvc.finance.models import ExportFile
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.kit.clock import FixedClock
from streamsvc.web.formatting import money
from tests.conftest import RecordingQueue
from tests.console.helpers import form_token
from tests.factories import VenueHandle, bearer
from tests.finance.world import build, ledger
from tests.staff.helpers import admin_signed_in, member_signed_in
from workers.base import WorkerResources
from workers.celery_app import create_celery

NOVEMBER = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
JOB_ROWS = 4  # an XLSX export of more rows is a job (the world's splits have 6)


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    # Links valid for an hour, sessions for a day: the clock moves past the one only.
    return settings.model_copy(update={
        "order_rate_per_ip": 100_000, "order_rate_per_email": 100_000,
        "export_job_rows": JOB_ROWS, "export_link_hours": 1, "staff_session_idle_minutes": 1440,
    })  # fmt: skip


@pytest.fixture
def client(
    job_settings: Settings, clock: FixedClock, queue: RecordingQueue
) -> Iterator[TestClient]:
    app = create_app(job_settings, clock, queue=queue)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


class Books:
    """A venue's admin (signed in on `client`), its finance member and door member (each
    in a browser of their own) and two events, sold and reconciled in November."""

    def __init__(self, client: TestClient, queue: Any, database: Database, settings: Settings,
                 clock: FixedClock) -> None:  # fmt: skip
        clock.at = NOVEMBER
        admin = admin_signed_in(client, queue, database, settings, clock.now(),
                                name="Stadsschouwburg")  # fmt: skip
        self.venue = VenueHandle(admin.venue_id, admin.key, bearer(admin.key))
        rule: dict[str, Any] = {"platform_fee_bps": 500, "costs": [2000],
                                "shares": [4000, 3000, 3000]}  # fmt: skip
        self.opera = build(client, database, clock, tiers=[(4500, 900, 500), (1950, 2100, None)],
                           venue=self.venue, title="La Traviata", **rule)  # fmt: skip
        self.ballet = build(client, database, clock, tiers=[(3500, 900, 500)],
                            venue=self.venue, title="Giselle", **rule)  # fmt: skip
        for world in (self.opera, self.ballet):
            for lines in ([(0, 2)], [(0, 1)], [(0, 3)]):
                world.buy(lines)
        self.opera.refund(self.opera.orders[0], 4500)
        for world in (self.opera, self.ballet):
            reconcile_event(database, world.books, world.event["id"], NOVEMBER, period="2026-11")
        self.finance = member_signed_in(client, queue, database, settings, clock.now(),
                                        "fred@example.org", "finance")  # fmt: skip
        self.door = member_signed_in(client, queue, database, settings, clock.now(),
                                     "dora@example.org", "door", address="198.51.100.8")  # fmt: skip


@pytest.fixture
def books(client: TestClient, queue: Any, database: Database, job_settings: Settings,
          clock: FixedClock) -> Books:  # fmt: skip
    return Books(client, queue, database, job_settings, clock)


def _payable(database: Database, venue_id: str) -> dict[str, int]:
    """Each party account's balance as the ledger holds it (owed to the party: > 0)."""
    with database.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT a.code, -sum(e.amount) FROM ledger_accounts a "
            "JOIN ledger_entries e ON e.account_id = a.id "
            "WHERE a.venue_id = :v AND a.party_type IS NOT NULL GROUP BY a.code"
        ), {"v": venue_id}).all()  # fmt: skip
    return {str(code): int(amount) for code, amount in rows}


def _audit(database: Database, action: str) -> list[AuditEntry]:
    with database.unit_of_work() as uow:
        found = list(uow.session.exec(select(AuditEntry).where(AuditEntry.action == action)))
        uow.session.expunge_all()
        return found


def _cells(page: str, step: str) -> list[tuple[str, str]]:
    return re.findall(
        rf'<tr data-step="{step}">\s*<th scope="row">(.*?)</th>\s*<td class="number">(.*?)</td>',
        page, re.S)  # fmt: skip


def test_the_waterfall_shows_the_statement_figures_and_the_balances_the_ledger(
    books: Books, database: Database
) -> None:
    world = books.opera
    found = world.statement()
    page = books.finance.get(f"/console/finance/events/{world.event['id']}")
    assert page.status_code == 200, page.text
    cur = found["currency"]
    for step in ("gross", "refunds", "disputes", "vat", "stripe_fees", "platform_fee",
                 "distributable"):  # fmt: skip
        [(_, shown)] = _cells(page.text, step)
        assert shown == money(found[step], cur, "en"), step
    costs = [shown for _, shown in _cells(page.text, "cost")]
    assert costs == [money(cost["amount"], cur, "en") for cost in found["costs"]]
    parties = _cells(page.text, "party")
    assert [shown for _, shown in parties] == [money(p["amount"], cur, "en")
                                               for p in found["parties"]]  # fmt: skip
    assert sum(p["amount"] for p in found["parties"]) == found["distributable"] > 0
    names = [party["name"] for party in world.parties[1:]]
    assert all(any(name in label for label, _ in parties) for name in names)
    # The chart says what it is, and the split rule's version is listed with its maker.
    assert '<title id="waterfall-title">' in page.text and "<desc" in page.text
    versions = re.search(r'<table class="receipt" id="rule-versions".*?</table>', page.text, re.S)
    assert versions and "Ada Admin" not in versions.group(0)  # made with the API key
    assert "40%" in versions.group(0) and "30%" in versions.group(0)
    # Statement links to the party statements (HTML and PDF).
    party = world.parties[1]
    assert f"/console/finance/statements/performer/{party['id']}.pdf?from=" in page.text

    overview = books.finance.get("/console/finance")
    assert overview.status_code == 200
    assert "La Traviata" in overview.text and "Giselle" in overview.text
    table = re.search(r'id="party-balances".*?</table>', overview.text, re.S)
    assert table
    for code, amount in _payable(database, books.venue.id).items():
        assert money(amount, "EUR", "en") in table.group(0), code
    assert '<a href="/console/finance" aria-current="page">Finance</a>' in overview.text


def test_door_staff_see_no_finance(books: Books) -> None:
    world = books.opera
    for path in ("/console/finance", f"/console/finance/events/{world.event['id']}",
                 "/console/finance/exports", "/console/finance/reconciliation"):  # fmt: skip
        answer = books.door.get(path, follow_redirects=False)
        assert answer.status_code == 403, path
        assert "La Traviata" not in answer.text
    answer = books.door.post("/console/finance/exports", follow_redirects=False,
                             data={"csrf_token": form_token(books.door.get("/console/account").text),
                                   "from": "2026-11-01", "to": "2026-11-30", "format": "csv"})  # fmt: skip
    assert answer.status_code == 403
    assert '"/console/finance"' not in books.door.get("/console/account").text


def _export(books: Books, **fields: str) -> Any:
    page = books.finance.get("/console/finance/exports")
    assert page.status_code == 200
    body = {"csrf_token": form_token(page.text), "from": "2026-11-01", "to": "2026-11-30",
            **fields}  # fmt: skip
    return books.finance.post("/console/finance/exports", data=body, follow_redirects=False)


def test_the_export_form_downloads_csv_xlsx_and_json_that_tie_out_with_the_ledger(
    books: Books, database: Database
) -> None:
    owed = sum(_payable(database, books.venue.id).values())
    dutch = _export(books, format="csv_excel")
    assert dutch.status_code == 200, dutch.text
    assert 'filename="splits-2026-11-01-2026-11-30.csv"' in dutch.headers["content-disposition"]
    assert dutch.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel wants
    *rows, total = list(csv.DictReader(io.StringIO(dutch.content.decode("utf-8-sig")),
                                       delimiter=";"))  # fmt: skip
    assert len(rows) == 6 and total["venue"] == "TOTAL"
    cents = sum(Decimal(row["party_amount"].replace(",", ".")) for row in rows) * 100
    assert cents == Decimal(total["party_amount"].replace(",", ".")) * 100 == owed

    plain = _export(books, format="csv")
    *rows, total = list(csv.DictReader(io.StringIO(plain.text)))
    assert Decimal(total["party_amount"]) * 100 == owed

    as_json = _export(books, format="json").json()
    assert as_json["totals"]["party_amount"] == owed and as_json["totals"]["rows"] == 6

    # One event, one party: what its statement says the party got.
    party = books.ballet.parties[1]
    one = _export(books, format="json", event=books.ballet.event["id"],
                  party=f"performer:{party['id']}").json()  # fmt: skip
    [share] = [p for p in books.ballet.statement()["parties"] if p["party"]["id"] == party["id"]]
    assert one["totals"]["party_amount"] == share["amount"] and one["totals"]["rows"] == 1

    # Four rows or fewer: an XLSX downloads at once.
    small = _export(books, format="xlsx", event=books.ballet.event["id"])
    assert small.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(small.content), read_only=True)
    sums = {row[0]: row[1] for row in book["Totals"].iter_rows(min_row=2, values_only=True)}
    ballet_owed = sum(p["amount"] for p in books.ballet.statement()["parties"])
    assert Decimal(str(sums["party_amount"])) * 100 == ballet_owed
    downloads = _audit(database, "export.downloaded")
    assert len(downloads) == 5
    assert {entry.changes["format"] for entry in downloads} == {"csv_excel", "csv", "json", "xlsx"}
    assert all(entry.actor_kind == "staff" for entry in downloads)


def test_the_form_names_what_is_wrong_beside_the_field(books: Books) -> None:
    answer = _export(books, format="xlsx", to="2026-10-01", party="performer:prf_nobody")
    assert answer.status_code == 422
    assert re.search(r'id="error-to"[^>]*>must not be before the first day<', answer.text)
    assert re.search(r'id="error-party"[^>]*>not a party of this venue<', answer.text)
    assert 'aria-invalid="true"' in answer.text


def _run_task(settings: Settings, clock: FixedClock, name: str, *args: str) -> Any:
    """A worker's task, run in-process on the test's clock."""
    app = create_celery(settings)
    app.loader.import_default_modules()
    app.streamsvc_resources = WorkerResources(settings, app, clock)
    try:
        return app.tasks[name].apply(args=list(args)).get()
    finally:
        app.streamsvc_resources.database.dispose()


def test_a_large_xlsx_export_runs_as_a_job_whose_link_expires(
    books: Books, database: Database, job_settings: Settings, clock: FixedClock,
    queue: RecordingQueue,
) -> None:  # fmt: skip
    answer = _export(books, format="xlsx")  # six rows: more than JOB_ROWS
    assert answer.status_code == 303
    job_id = answer.headers["location"].rsplit("/", 1)[1]
    assert ("finance.build_export", (job_id,)) in queue.sent
    page = books.finance.get(f"/console/finance/exports/jobs/{job_id}")
    assert 'id="export-download" hidden' in page.text  # not before the file exists
    assert books.finance.get(f"/console/finance/exports/jobs/{job_id}/file").status_code == 404

    assert _run_task(job_settings, clock, "finance.build_export", job_id) is True
    assert _run_task(job_settings, clock, "finance.build_export", job_id) is False  # once
    progress = books.finance.get(f"/console/jobs/{job_id}").json()
    assert progress["status"] == "succeeded"
    assert progress["progress"] == {"done": 6, "total": 6}
    page = books.finance.get(f"/console/finance/exports/jobs/{job_id}")
    assert 'id="export-download" hidden' not in page.text
    assert f"/console/finance/exports/jobs/{job_id}/file" in page.text

    file = books.finance.get(f"/console/finance/exports/jobs/{job_id}/file")
    assert file.status_code == 200
    assert 'filename="splits-2026-11-01-2026-11-30.xlsx"' in file.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(file.content), read_only=True)
    assert len(list(book["Splits"].iter_rows(values_only=True))) == 7  # a header and 6 rows
    sums = {row[0]: row[1] for row in book["Totals"].iter_rows(min_row=2, values_only=True)}
    assert Decimal(str(sums["party_amount"])) * 100 == sum(_payable(database, books.venue.id)
                                                           .values())  # fmt: skip
    [entry] = [e for e in _audit(database, "export.downloaded") if e.object_id == job_id]
    assert entry.changes["rows"] == 6

    # Another venue's session, or another role, gets nothing of it.
    assert books.door.get(f"/console/finance/exports/jobs/{job_id}/file").status_code == 403

    clock.advance(hours=job_settings.export_link_hours, seconds=1)
    expired = books.finance.get(f"/console/finance/exports/jobs/{job_id}/file")
    assert expired.status_code == 410
    assert "This link has expired" in expired.text
    assert _run_task(job_settings, clock, "finance.delete_expired_exports") == 1
    with database.unit_of_work() as uow:
        assert uow.session.get(ExportFile, job_id) is None
    assert books.finance.get(f"/console/finance/exports/jobs/{job_id}/file").status_code == 410


def test_a_reconciliation_starts_from_the_page(books: Books, queue: RecordingQueue) -> None:
    page = books.finance.get("/console/finance/reconciliation")
    assert page.status_code == 200
    answer = books.finance.post("/console/finance/reconciliation", follow_redirects=False,
                                data={"csrf_token": form_token(page.text),
                                      "event": books.opera.event["id"]})  # fmt: skip
    assert answer.status_code == 303
    job_id = answer.headers["location"].rsplit("=", 1)[1]
    assert ("finance.reconcile", (job_id,)) in queue.sent
    progress = books.finance.get(answer.headers["location"])
    assert 'data-job="/console/jobs/' + job_id + '"' in progress.text
    assert "questions to Stripe answered" in progress.text
    wrong = books.finance.post("/console/finance/reconciliation", follow_redirects=False,
                               data={"csrf_token": form_token(page.text), "from": "someday",
                                     "to": "2026-11-30"})  # fmt: skip
    assert wrong.status_code == 422
    assert re.search(r'id="error-from"[^>]*>enter a date<', wrong.text)


def test_acknowledging_a_finding_is_audited_and_leaves_the_ledger_as_it_was(
    books: Books, database: Database, clock: FixedClock
) -> None:
    with database.unit_of_work() as uow:
        record_finding(uow.session, books.venue.id, books.opera.event["id"],
                       kind="amount_mismatch", reference="bt:txn_1Qconsole",
                       detail="Stripe reports 4500, we recorded 4400", now=clock.now())  # fmt: skip
    page = books.finance.get("/console/finance/reconciliation")
    [finding_id] = re.findall(r'data-finding="(fnd_\w+)"', page.text)
    assert "txn_1Qconsole" in page.text and "Amounts differ" in page.text
    before = ledger(database)
    detail = books.finance.get(f"/console/finance/reconciliation/findings/{finding_id}")
    token = form_token(detail.text)
    url = f"/console/finance/reconciliation/findings/{finding_id}"
    no_note = books.finance.post(url, data={"csrf_token": token, "note": "  ",
                                            "confirm": "yes"})  # fmt: skip
    assert no_note.status_code == 422
    assert re.search(r'id="error-note"[^>]*>Please write a note.<', no_note.text)
    too_long = books.finance.post(url, data={"csrf_token": token, "note": "x" * 1001,
                                             "confirm": "yes"})  # fmt: skip
    assert too_long.status_code == 422
    unconfirmed = books.finance.post(url, data={"csrf_token": token, "note": "Checked"})
    assert re.search(r'id="error-confirm"[^>]*>Tick the box to confirm.<', unconfirmed.text)
    assert _audit(database, "finding.acknowledged") == []

    note = "Stripe's fee was corrected on their side; nothing to post."
    done = books.finance.post(url, data={"csrf_token": token, "note": note, "confirm": "yes"},
                              follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    [entry] = _audit(database, "finding.acknowledged")
    assert entry.object_id == finding_id and entry.changes["note"] == note
    assert entry.actor_kind == "staff"
    assert ledger(database) == before  # not one entry more, less or changed
    assert finding_id not in books.finance.get("/console/finance/reconciliation").text
    shown = books.finance.get("/console/finance/reconciliation?show=acknowledged").text
    assert finding_id in shown and "Acknowledged by Fred Finance" in shown
    again = books.finance.post(url, data={"csrf_token": token, "note": "again", "confirm": "yes"})
    assert again.status_code == 409
    assert len(_audit(database, "finding.acknowledged")) == 1
    assert "corrected on their side; nothing to post." in books.finance.get(url).text
