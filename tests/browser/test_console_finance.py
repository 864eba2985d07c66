"""The finance console in Chromium, one whole flow, axe on every page:

(8) a finance member opens an event's waterfall (its figures the statement's), downloads
    a performer's statement as PDF from it (its total their part in the ledger), starts a
    reconciliation of the event and follows it to done, acknowledges the finding it
    lists with a note (the ledger unchanged), then downloads the month's splits as CSV
    for Dutch Excel and as XLSX, whose totals equal the parties' balances in the ledger;
(2) then, on the event's and an order's console pages, finds no editor and no refund
    button, and a POST of those forms with the page's CSRF token answers 403.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped]
import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.finance.findings import record_finding
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.kit.clock import FixedClock
from streamsvc.web.formatting import money, money_code
from tests.browser.conftest import PageFactory
from tests.factories import VenueHandle, bearer, ok
from tests.finance.world import World, build, ledger
from tests.staff.helpers import PASSWORD, admin_signed_in, member_signed_in
from workers.base import WorkerResources
from workers.celery_app import create_celery

pytestmark = [pytest.mark.browser, pytest.mark.stripe, pytest.mark.timeout(300)]


def _owed(database: Database, venue_id: str, party: dict[str, Any] | None = None) -> int:
    """What the venue's ledger says it owes its parties, in all (or this party)."""
    code = f"payable:{party['type']}:{party['id']}" if party else None
    with database.engine.connect() as conn:
        return -int(conn.execute(text(
            "SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e "
            "JOIN ledger_accounts a ON a.id = e.account_id "
            "WHERE a.venue_id = :v AND a.party_type IS NOT NULL "
            "AND (CAST(:c AS text) IS NULL OR a.code = :c)"
        ), {"v": venue_id, "c": code}).scalar_one())  # fmt: skip


def _pdf_words(path: Path) -> str:
    """The PDF's text, each run of spaces one space (Babel puts no-break spaces between
    a currency and its amount)."""
    words = " ".join(page.extract_text() for page in PdfReader(path).pages)
    return re.sub(r"[\s\u00a0\u202f]+", " ", words)


def _reconcile_as_the_worker(settings: Settings, clock: FixedClock, world: World,
                             job_id: str) -> None:  # fmt: skip
    """What a worker does with the job, with the world's Stripe books as Stripe. (A worker
    of an earlier test may have taken it from the broker: a finished job is not run again.)"""
    app = create_celery(settings)
    app.loader.import_default_modules()
    resources = WorkerResources(settings, app, clock)
    resources.__dict__["gateway"] = world.books  # the cached gateway: these books
    app.streamsvc_resources = resources
    try:
        app.tasks["finance.reconcile"].apply(args=[job_id]).get()
    finally:
        resources.database.dispose()


def _download(page: Page, button: str, into: Path) -> Path:
    with page.expect_download() as info:
        page.get_by_role("button", name=button).click()
    target = into / info.value.suggested_filename
    info.value.save_as(target)
    return target


def test_a_finance_member_reconciles_reads_the_waterfall_acknowledges_and_exports(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    site: str, new_page: PageFactory, assert_accessible: Callable[..., None], tmp_path: Path,
) -> None:  # fmt: skip
    admin = admin_signed_in(client, queue, database, settings, clock.now(),
                            name="Stadsschouwburg")  # fmt: skip
    venue = VenueHandle(admin.venue_id, admin.key, bearer(admin.key))
    world = build(client, database, clock, tiers=[(4500, 900, 500), (1950, 2100, None)],
                  platform_fee_bps=500, costs=[2000], shares=[4000, 3000, 3000], venue=venue,
                  title="La Traviata")  # fmt: skip
    for lines in ([(0, 2)], [(1, 1)], [(0, 1), (1, 2)]):
        world.buy(lines)
    reconcile_event(database, world.books, world.event["id"], clock.now(), period="2026-12")
    with database.unit_of_work() as uow:
        record_finding(uow.session, venue.id, world.event["id"], kind="amount_mismatch",
                       reference="bt:txn_1Qbrowser", now=clock.now(),
                       detail="Stripe reports 4500, we recorded 4400")  # fmt: skip
    member_signed_in(client, queue, database, settings, clock.now(), "fred@example.org",
                     "finance")  # fmt: skip
    statement = world.statement()

    page = new_page("en-GB")
    page.goto(f"{site}/console/finance")
    page.get_by_label("E-mail address").fill("fred@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{site}/console/finance")
    assert_accessible(page)

    # The waterfall: the chart, and beside it the statement's figures.
    page.get_by_role("link", name="La Traviata").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Statement of La Traviata")
    expect(page.get_by_role("img", name=re.compile("^The money of La Traviata"))).to_be_visible()
    for step in ("gross", "vat", "stripe_fees", "platform_fee", "distributable"):
        expect(page.locator(f'#waterfall tr[data-step="{step}"] td')).to_have_text(
            money(statement[step], "EUR", "en"))  # fmt: skip
    assert_accessible(page)

    # A performer's statement, downloaded as PDF from its link: its total their part.
    singer = world.parties[1]
    with page.expect_download() as info:
        page.locator("li", has_text=f"{singer['name']}:").get_by_role(
            "link", name="statement (PDF)").click()  # fmt: skip
    assert info.value.suggested_filename.endswith(".pdf")
    pdf = tmp_path / info.value.suggested_filename
    info.value.save_as(pdf)
    words = _pdf_words(pdf)
    part = _owed(database, venue.id, singer)
    assert part > 0
    assert singer["name"] in words and "La Traviata" in words
    # The totals row ends with the party's part.
    totals = re.search(r"Total((?: EUR -?[\d,]+\.\d\d)+)", words)
    assert totals, words
    assert totals.group(1).rsplit(" EUR ", 1)[1] == money_code(part, "EUR", "en").split()[-1]

    # A reconciliation of the event, followed to done.
    page.get_by_role("link", name="Reconciliation").first.click()
    page.get_by_label("Event").select_option(world.event["id"])
    page.get_by_role("button", name="Start the reconciliation").click()
    expect(page).to_have_url(re.compile(r"/console/finance/reconciliation\?job=job_"))
    expect(page.locator("#job-text")).to_contain_text("questions to Stripe answered")
    assert_accessible(page)
    job_id = page.url.rsplit("=", 1)[1]
    before = ledger(database)
    _reconcile_as_the_worker(settings, clock, world, job_id)
    expect(page.locator("#job-text")).to_contain_text("Done.", timeout=15_000)
    page.get_by_role("link", name="Show the findings").click()

    # The finding, acknowledged with a note: audit-logged, the ledger as it was.
    row = page.locator("#findings tr", has_text="txn_1Qbrowser")
    expect(row).to_contain_text("Amounts differ")
    row.get_by_role("link", name=re.compile("^Acknowledge")).click()
    assert_accessible(page)
    page.get_by_label("Note", exact=True).fill(
        "Checked with Stripe's dashboard: their figure is right."
    )
    page.get_by_label("I have looked into this difference").check()
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#done-text")).to_have_text("The finding is acknowledged.")
    expect(page.locator("#findings")).not_to_contain_text("txn_1Qbrowser")
    assert ledger(database) == before
    assert_accessible(page)

    # The month's splits as CSV for Dutch Excel, then as XLSX: their totals the ledger's.
    owed = _owed(database, venue.id)
    assert owed == statement["distributable"] > 0
    page.get_by_role("link", name="Exports").first.click()
    assert_accessible(page)
    dutch = _download(page, "Download the export", tmp_path)
    assert dutch.name.endswith(".csv")
    *rows, total = list(csv.DictReader(io.StringIO(dutch.read_text("utf-8-sig")), delimiter=";"))
    assert len(rows) == 3 and total["venue"] == "TOTAL"
    assert Decimal(total["party_amount"].replace(",", ".")) * 100 == owed
    assert sum(Decimal(r["party_amount"].replace(",", ".")) for r in rows) * 100 == owed
    page.get_by_label("XLSX (Excel workbook)").check()
    workbook = _download(page, "Download the export", tmp_path)
    assert workbook.name.endswith(".xlsx")
    book = openpyxl.load_workbook(workbook, read_only=True)
    sums = {row[0]: row[1] for row in book["Totals"].iter_rows(min_row=2, values_only=True)}
    assert Decimal(str(sums["party_amount"])) * 100 == owed
    assert Decimal(str(sums["gross"])) * 100 == statement["gross"]

    # (2) Finance reads the event and its orders, and changes neither: no editor, no
    # refund button, and their forms' URLs refuse this role even with a valid token.
    event_id, order_id = world.event["id"], world.orders[0]["id"]
    page.goto(f"{site}/console/events/{event_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("La Traviata")
    expect(page.locator("#tiers tbody tr")).to_have_count(2)
    expect(page.locator("#main form")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^(Save|Add|Publish)"))).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("^Cancel the event"))).to_have_count(0)
    assert_accessible(page)
    page.goto(f"{site}/console/orders/{order_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order_id}")
    expect(page.get_by_role("button", name=re.compile("^(Refund|Revoke)"))).to_have_count(0)
    expect(page.get_by_label(re.compile("^Amount"))).to_have_count(0)
    assert_accessible(page)
    token = page.locator('form.logout input[name="csrf_token"]').get_attribute("value")
    assert token
    for path, fields in ((f"/console/events/{event_id}", {"title": "Changed"}),
                         (f"/console/orders/{order_id}/refund/confirm", {"amount": "5"})):  # fmt: skip
        answer = page.request.post(f"{site}{path}", form={"csrf_token": token, **fields})
        assert answer.status == 403, (path, answer.text()[:300])
        assert "Your role at this venue does not allow this." in answer.text(), path
    staff = ok(client.get(f"/v1/orders/{order_id}", headers=venue.headers))
    assert staff["refunds"] == [] and staff["status"] == "paid"
    assert ok(client.get(f"/v1/events/{event_id}", headers=venue.headers))["title"] == (
        "La Traviata"
    )
