"""The first admin in a browser: the CLI's one-time link, a password, two factors, a
logout, and back in with password and code."""

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
from streamsvc.staff.cli import run_create
from tests.browser.conftest import PageFactory

pytestmark = pytest.mark.browser
EMAIL = "boss@example.org"
PASSWORD = "a long and private passphrase"


def _cli_link(settings: Settings, capsys: pytest.CaptureFixture[str]) -> str:
    args = build_parser().parse_args(
        ["venue", "create", "--name", "Paradiso", "--country", "NL", "--currency", "EUR",
         "--timezone", "Europe/Amsterdam", "--admin-email", EMAIL, "--admin-name", "Bo Boss"]
    )  # fmt: skip
    assert run_create(settings, args) == 0
    match = re.search(r"(\S+/console/invitations/accept#token=\S+)", capsys.readouterr().out)
    assert match
    parts = urlsplit(match.group(1))
    return f"{parts.path}#{parts.fragment}"


def test_the_first_admin_sets_a_password_enrols_totp_and_logs_in_with_a_code(
    settings: Settings, clock: FixedClock, site: str, new_page: PageFactory,
    assert_accessible: Callable[..., None], capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    clock.at = datetime.now(UTC)  # the CLI dates the invitation by the real clock
    link = _cli_link(settings, capsys)
    page = new_page("en-GB")

    page.goto(f"{site}{link}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Accept the invitation")
    expect(page).to_have_url(f"{site}/console/invitations/accept")  # the secret left the bar
    assert_accessible(page)
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("New password again").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()

    expect(page).to_have_url(f"{site}/console/account")
    expect(page.get_by_role("heading", level=1)).to_have_text("My account")
    expect(page.locator("svg.qr-code")).to_be_visible()
    assert_accessible(page)
    secret = page.locator("#totp-secret").inner_text()
    assert page.locator("#totp-uri").inner_text().startswith("otpauth://totp/")
    page.get_by_label("The six-digit code the app shows").fill(pyotp.TOTP(secret).at(clock.now()))
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    expect(page.locator("#totp-status")).to_contain_text("Two-factor authentication is on.")
    assert_accessible(page)

    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/login"))
    expect(page.locator("#login-notice")).to_have_text("You are logged out.")
    assert_accessible(page)

    page.goto(f"{site}/console/members")  # not signed in: the login, then back here
    expect(page).to_have_url(f"{site}/console/login?next=/console/members")
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_label("One-time code")).to_be_visible()
    assert_accessible(page)
    clock.advance(seconds=30)  # a code not used before
    page.get_by_label("One-time code").fill(pyotp.TOTP(secret).at(clock.now()))
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(f"{site}/console/members")
    expect(page.get_by_role("heading", level=1)).to_have_text("Members")
    console = page.get_by_role("navigation", name="Console")
    expect(console.get_by_role("link", name="API keys")).to_be_visible()
    expect(page.get_by_role("cell", name=EMAIL)).to_be_visible()
    assert_accessible(page)
