"""Paying the month's parties in Chromium, axe on every page:

(9) a finance member runs the month's payout (a performer with an invalid IBAN held,
    with the reason), a second member approves it and downloads the SEPA file (which
    validates against the pain.001.001.03 schema), and marks it paid; the ledger then
    balances and every paid party's payable balance is zero. The held performer's IBAN
    is corrected and confirmed by the other member, and the next run pays exactly them;
    once that is paid too, a run of the same month says nothing is due and makes no batch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.payouts import reading
from streamsvc.payouts.models import PayoutDetails
from tests.browser.conftest import PageFactory
from tests.factories import VenueHandle, bearer
from tests.harness import Infrastructure
from tests.payouts.conftest import OPERATOR
from tests.payouts.money import give_details, ledger_sums_to_zero, owed, sold_world
from tests.payouts.test_sepa_and_advice import cents, validate
from tests.staff.helpers import PASSWORD, admin_signed_in, log_in, member_signed_in

pytestmark = [pytest.mark.browser, pytest.mark.stripe, pytest.mark.timeout(300)]


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    return infra.settings().model_copy(
        update={"order_rate_per_ip": 100_000, "order_rate_per_email": 100_000, **OPERATOR}
    )


def _log_in(page: Page, site: str, email: str) -> None:
    page.goto(f"{site}/console/finance/payouts")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{site}/console/finance/payouts")


def _run(page: Page, period: str) -> None:
    page.get_by_label("Period (month)").fill(period)
    page.get_by_role("button", name="Run the payout").click()
    expect(page.locator("#batch-done")).to_contain_text("The payout batch is made")


def _batches(database: Database, venue_id: str) -> list[str]:
    with database.unit_of_work() as uow:
        return [batch.id for batch in reading.recent_batches(uow.session, venue_id)]


def test_the_months_payout_from_the_console(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    site: str, new_page: PageFactory, assert_accessible: Callable[..., None], tmp_path: Path,
) -> None:  # fmt: skip
    admin = admin_signed_in(client, queue, database, settings, clock.now(), name="Paradiso")
    venue = VenueHandle(admin.venue_id, admin.key, bearer(admin.key))
    world = sold_world(client, database, clock, venue=venue)
    clock.advance(days=40)
    singer = world.parties[2]
    give_details(database, world, clock.now(), skip=2)
    with database.unit_of_work() as uow:  # imported before IBANs were validated
        uow.session.add(PayoutDetails(
            id="pdt_browser", venue_id=venue.id, party_type="performer", party_id=singer["id"],
            holder="Typo", iban="NL00ABNA0000000000", changed_by="import",
            changed_at=clock.now(), confirmed_by="stf_bob", confirmed_at=clock.now()))  # fmt: skip
    assert log_in(client, admin.email).status_code == 303  # after 40 days: a new session
    member_signed_in(client, queue, database, settings, clock.now(), "fred@example.org",
                     "finance")  # fmt: skip
    member_signed_in(client, queue, database, settings, clock.now(), "gina@example.org",
                     "finance", address="198.51.100.8")  # fmt: skip
    before = owed(database, venue.id)

    fred = new_page("en-GB")
    _log_in(fred, site, "fred@example.org")
    assert_accessible(fred)
    _run(fred, "2026-12")
    held = fred.locator("tr.held", has_text=singer["name"])
    expect(held).to_contain_text("the IBAN is not valid")
    expect(fred.get_by_role("link", name="Download the SEPA file")).to_have_count(0)
    assert_accessible(fred)
    batch_url = fred.url.split("?")[0]
    # On a phone the batch fits the screen (its tables scroll inside the page).
    size = fred.viewport_size
    fred.set_viewport_size({"width": 390, "height": 800})
    assert fred.evaluate("document.documentElement.scrollWidth") <= 390
    assert size is not None
    fred.set_viewport_size(size)

    gina = new_page("en-GB")
    _log_in(gina, site, "gina@example.org")
    gina.goto(batch_url)
    gina.get_by_role("button", name="Approve the payout").click()
    expect(gina.locator("#batch-done")).to_contain_text("The batch is approved")
    with gina.expect_download() as info:
        gina.get_by_role("link", name="Download the SEPA file").click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    document = validate(target.read_bytes())
    paid_now = sum(v for (kind, pid), v in before.items() if pid != singer["id"])
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
    assert cents(document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=ns)) == (
        paid_now
    )
    gina.get_by_role("button", name="Mark as paid").click()
    expect(gina.locator("#batch-status")).to_have_text("Paid")
    assert_accessible(gina)
    assert ledger_sums_to_zero(database)
    left = owed(database, venue.id)
    assert {key: value for key, value in left.items() if key[1] != singer["id"]} == {
        key: 0 for key in left if key[1] != singer["id"]
    }
    assert left[("performer", singer["id"])] == before[("performer", singer["id"])]

    # The IBAN corrected by Fred, confirmed by Gina: the next run pays exactly the singer.
    fred.goto(batch_url)
    fred.locator("tr.held").get_by_role("link", name=singer["name"]).click()
    fred.get_by_label("Account holder").fill(singer["name"])
    fred.get_by_label("IBAN", exact=True).fill("NL91 ABNA 0417 1643 00")
    fred.get_by_role("button", name="Save the details").click()
    expect(fred.locator("#party-done")).to_contain_text("The details are saved")
    expect(fred.locator("#masked-iban")).to_have_text("NL** **** **** **43 00")
    assert_accessible(fred)
    gina.goto(fred.url.split("?")[0])
    gina.get_by_role("button", name="Confirm these details").click()
    expect(gina.locator("#details-status")).to_have_text("Confirmed")
    fred.goto(f"{site}/console/finance/payouts")
    _run(fred, "2026-12")
    expect(fred.locator("#batch-total")).to_have_text(
        re.compile(re.escape(f"{before[('performer', singer['id'])] / 100:,.2f}"))
    )
    assert set(owed(database, venue.id).values()) == {0}

    # Gina approves the singer's batch and marks it paid; a run of the same month again
    # pays nobody twice: the page says nothing is due, and no batch is made.
    gina.goto(fred.url.split("?")[0])
    gina.get_by_role("button", name="Approve the payout").click()
    expect(gina.locator("#batch-done")).to_contain_text("The batch is approved")
    gina.get_by_role("button", name="Mark as paid").click()
    expect(gina.locator("#batch-status")).to_have_text("Paid")
    assert ledger_sums_to_zero(database)
    made = _batches(database, venue.id)
    assert len(made) == 2
    fred.goto(f"{site}/console/finance/payouts")
    fred.get_by_label("Period (month)").fill("2026-12")
    fred.get_by_role("button", name="Run the payout").click()
    expect(fred.locator("#form-errors")).to_have_text(
        "Nothing is due for this period: every party is paid up."
    )
    expect(fred.get_by_label("Period (month)")).to_have_value("2026-12")
    assert_accessible(fred)
    assert _batches(database, venue.id) == made
    assert set(owed(database, venue.id).values()) == {0}
