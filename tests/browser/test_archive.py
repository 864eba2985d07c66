"""The archive in a browser: find a recording, read its licence and offers (axe-core)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.kit.clock import FixedClock
from tests.browser.conftest import PageFactory
from tests.browser.test_console_events import _admin_behind_two_factors
from tests.factories import make_venue
from tests.recordings.helpers import published_recording

pytestmark = pytest.mark.browser


def test_a_listener_finds_a_recording_and_reads_its_licence_and_offers(
    client: TestClient, site: str, new_page: PageFactory,
    assert_accessible: Callable[..., None],
) -> None:  # fmt: skip
    venue = make_venue(client, name="Bimhuis")
    recording = published_recording(client, venue)
    page = new_page("en-GB")
    page.goto(f"{site}/archive")
    expect(page.get_by_role("heading", level=1)).to_have_text("The archive: recorded concerts")
    page.get_by_label("Licence").select_option("cc-by-sa-4.0")
    page.get_by_role("button", name="Show recordings").click()
    card = page.locator(".event-card", has_text="Bill Evans Trio")
    expect(card).to_contain_text("CC BY-SA 4.0")
    assert_accessible(page)

    card.get_by_role("link", name="Bill Evans Trio, live at the Bimhuis").click()
    expect(page).to_have_url(f"{site}/recordings/{recording['id']}")
    licence = page.get_by_role(
        "link", name="CC BY-SA 4.0: Attribution-ShareAlike 4.0 International"
    )
    expect(licence).to_have_attribute("href", "https://creativecommons.org/licenses/by-sa/4.0/")
    expect(page.locator("#offer-rental")).to_contain_text(
        "Start within 30 days, then watch for 48 hours."
    )
    expect(page.locator("#duration")).to_have_text("1 hour, 32 minutes")
    assert_accessible(page)


def test_an_admin_adds_a_recording_in_the_console(
    settings: Settings, clock: FixedClock, site: str, new_page: PageFactory,
    capsys: pytest.CaptureFixture[str], assert_accessible: Callable[..., None],
) -> None:  # fmt: skip
    page = new_page("en-GB")
    _admin_behind_two_factors(settings, clock, site, page, capsys)
    page.get_by_role("link", name="Recordings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Recordings")
    assert_accessible(page)
    page.get_by_role("link", name="Add a recording").click()
    page.get_by_label("Title").fill("Bill Evans Trio, live at the Concertgebouw")
    page.get_by_label("Recorded on", exact=True).fill("1969-03-12")
    page.get_by_label("Duration (hours:minutes:seconds, e.g. 1:32:00)").fill("1:32:00")
    page.get_by_label("Origin URL of the media (e.g. https://origin.example.org)").fill(
        "https://origin.example.org"
    )
    page.get_by_label("Licence").select_option("cc-by-4.0")
    page.get_by_label("Copyright holder").fill("Stichting Jazzarchief")
    page.get_by_label("Credit line").fill("Recorded by the VARA")
    assert_accessible(page)
    page.get_by_role("button", name="Create the recording").click()
    expect(page.locator("#recording-status")).to_have_text("Draft")
    page.get_by_label("Free to watch, for everyone (not with a rental or purchase)").check()
    page.get_by_role("button", name="Save the offers").click()
    expect(page.locator("#offers-now")).to_contain_text("Free to watch, for everyone.")
    assert_accessible(page)
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#recording-status")).to_have_text("Published")
    page.get_by_role("link", name="Public page").click()
    expect(page.locator("#licence")).to_contain_text("CC BY 4.0")
