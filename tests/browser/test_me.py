"""A performer in Chromium: the mailed link's secret handed over from the fragment by
the page's script (CSP-safe), then /me and a correction of the payout details; axe on
every page."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.me import signin
from streamsvc.me.models import PerformerSignInLink
from tests.browser.conftest import PageFactory
from tests.factories import make_performer, make_venue

pytestmark = pytest.mark.browser


def test_a_performer_signs_in_from_the_mailed_link_and_corrects_the_payout_details(
    settings: Settings, clock: FixedClock, database: Database, site: str,
    new_page: PageFactory, assert_accessible: Callable[..., None],
) -> None:  # fmt: skip
    with TestClient(create_app(settings, clock)) as api:
        venue = make_venue(api, name="Paradiso")
        performer = make_performer(api, venue, "Zoë Ψυχή")
    with database.unit_of_work() as uow:
        link_id = signin.request_link(uow.session, settings, performer["email"], "en", clock.now())
        assert link_id is not None
        row = uow.session.get(PerformerSignInLink, link_id)
        assert row is not None
        link = signin.link_url(settings, row)
    assert link is not None
    parts = urlsplit(link)
    page = new_page("en-GB")

    page.goto(f"{site}/me/sign-in")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to your statements")
    assert_accessible(page)

    page.goto(f"{site}{parts.path}#{parts.fragment}")
    expect(page).to_have_url(f"{site}/me/sign-in/complete")  # the secret left the bar
    assert_accessible(page)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{site}/me")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your statements")
    expect(page.get_by_role("heading", level=2)).to_have_text("Paradiso")
    assert_accessible(page)

    page.get_by_role("link", name="Correct your payout details").click()
    page.get_by_label("Account holder").fill("Zoë Ψυχή")
    page.get_by_label("IBAN", exact=True).fill("NL91 ABNA 0417 1643 00")
    page.get_by_role("button", name="Save the new details").click()
    expect(page.locator("#details-saved")).to_be_visible()
    expect(page.locator("dl.me-details")).to_contain_text("NL** **** **** **43 00")
    assert_accessible(page)

    page.get_by_role("link", name="Back to your statements").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{site}/me/sign-in?done=signed_out")
    page.goto(f"{site}/me")
    expect(page).to_have_url(f"{site}/me/sign-in")
