"""The platform admin in a browser: the CLI's one-time link, a password, the second
factor the platform console always asks, onboarding and suspending a venue, the fee
statement; every page accessible (axe)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.sync_api import expect

from config.settings import Settings
from streamsvc.cli import build_parser
from streamsvc.kit.clock import FixedClock
from streamsvc.platform.cli import run_create
from tests.browser.conftest import PageFactory

pytestmark = pytest.mark.browser
EMAIL = "olga@platform.example"
PASSWORD = "a long and private passphrase"


def test_a_platform_admin_enrols_onboards_and_suspends_a_venue(
    settings: Settings, clock: FixedClock, site: str, new_page: PageFactory,
    assert_accessible: Callable[..., None], capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    clock.at = datetime.now(UTC)  # the CLI dates the link by the real clock
    args = build_parser().parse_args(["platform-admin", "create", "--email", EMAIL,
                                      "--name", "Olga Operator"])  # fmt: skip
    assert run_create(settings, args) == 0
    match = re.search(r"(\S+/console/password/reset#token=\S+)", capsys.readouterr().out)
    assert match
    parts = urlsplit(match.group(1))
    page = new_page("en-GB")

    page.goto(f"{site}{parts.path}#{parts.fragment}")
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("New password again").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page).to_have_url(re.compile(r"/console/login\?done=password_set"))

    page.goto(f"{site}/platform")
    expect(page).to_have_url(f"{site}/console/login?next=/platform")
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # The platform console wants a second factor first.
    expect(page).to_have_url(f"{site}/platform/account")
    expect(page.locator("#must-enrol")).to_be_visible()
    assert_accessible(page)
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("The six-digit code the app shows").fill(pyotp.TOTP(secret).at(clock.now()))
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)

    page.get_by_role("navigation", name="Platform console").get_by_role(
        "link", name="Venues"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Venues on the platform")
    assert_accessible(page)
    page.get_by_label("Venue name").fill("Het Muziekgebouw")
    page.get_by_label("City").fill("Eindhoven")
    page.get_by_label("First admin's e-mail address").fill("not an address")
    page.get_by_role("button", name="Onboard the venue").click()
    expect(page.locator("#error-admin_email")).to_have_text("an e-mail address")
    assert_accessible(page)
    page.get_by_label("First admin's e-mail address").fill("marie@muziekgebouw.example")
    page.get_by_role("button", name="Onboard the venue").click()
    expect(page.locator("#platform-done")).to_contain_text("The venue is onboarded")
    row = page.locator("#venues tbody tr", has_text="Het Muziekgebouw")
    expect(row).to_contain_text("Eindhoven")
    row.get_by_role("button", name="Suspend Het Muziekgebouw").click()
    expect(page.locator("#platform-done")).to_have_text("The venue is suspended.")
    expect(row).to_contain_text("Suspended since")
    assert_accessible(page)

    page.get_by_role("link", name="Platform fees").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Platform fees")
    expect(page.locator("#statement")).to_contain_text("No platform fees in this period.")
    assert_accessible(page)
