"""The venue console's events in a browser, whole flows, axe on every page:

(1) the first admin, made by the CLI, opens its one-time link, sets a password, turns
    on two-factor authentication (the key read beside the QR code, the codes computed
    as an authenticator app would), logs out and in again with password and code, then
    sets up an event (an HD tier, a seat tier, three performers, a split rule over the
    venue and the performers, previewed by the server's waterfall), publishes it and
    finds it in the public catalogue;
(4) an admin logged in the same way cancels an event with three paid orders: the page
    names the refund, then the progress, polled from the job's JSON, reaches 3 of 3.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pyotp
import pytest
from playwright.sync_api import Page, expect
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.cli import build_parser
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import cancellation
from streamsvc.staff.cli import run_create
from tests.browser.conftest import PageFactory
from tests.factories import buy
from tests.orders import scenarios as s

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
EMAIL = "ada@example.org"
PASSWORD = "a long and private passphrase"


def _admin_behind_two_factors(
    settings: Settings, clock: FixedClock, site: str, page: Page,
    capsys: pytest.CaptureFixture[str], check: Callable[..., None] | None = None,
) -> None:  # fmt: skip
    """The CLI's venue and first admin: a password set in the browser, TOTP turned on,
    logged out, and in again with password and code (on the overview). `check` runs on
    each page on the way."""
    clock.at = datetime.now(UTC)  # the CLI dates the invitation by the real clock
    args = build_parser().parse_args(
        ["venue", "create", "--name", "Concertgebouw", "--country", "NL", "--currency", "EUR",
         "--timezone", "Europe/Amsterdam", "--admin-email", EMAIL, "--admin-name", "Ada Admin"]
    )  # fmt: skip
    assert run_create(settings, args) == 0
    match = re.search(r"(\S+/console/invitations/accept#token=\S+)", capsys.readouterr().out)
    assert match
    parts = urlsplit(match.group(1))
    page.goto(f"{site}{parts.path}#{parts.fragment}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Accept the invitation")
    expect(page).to_have_url(f"{site}/console/invitations/accept")  # the secret left the bar
    if check:
        check(page)
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("New password again").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()

    # Two factors: the key as the page prints it beside the QR code, into "the app".
    expect(page).to_have_url(f"{site}/console/account")
    expect(page.get_by_role("heading", level=1)).to_have_text("My account")
    qr = page.locator("figure", has=page.locator("svg.qr-code"))
    expect(qr).to_be_visible()
    if check:
        check(page)
    key = re.fullmatch(r"Key: ([A-Z2-7]+)", qr.locator("figcaption").inner_text().strip())
    assert key, qr.inner_text()
    app = pyotp.TOTP(key.group(1))
    assert page.locator("#totp-uri").inner_text().startswith("otpauth://totp/")
    page.get_by_label("The six-digit code the app shows").fill(app.at(clock.now()))
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    expect(page.locator("#totp-status")).to_contain_text("Two-factor authentication is on.")
    if check:
        check(page)

    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/login"))
    expect(page.locator("#login-notice")).to_have_text("You are logged out.")
    if check:
        check(page)
    page.goto(f"{site}/console")  # not signed in: the login, then back here
    expect(page).to_have_url(f"{site}/console/login?next=/console")
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_label("One-time code")).to_be_visible()
    if check:
        check(page)
    clock.advance(seconds=30)  # the app's next code: one used before is refused
    page.get_by_label("One-time code").fill(app.at(clock.now()))
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{site}/console")
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    console = page.get_by_role("navigation", name="Console")
    expect(console.get_by_role("link", name="API keys")).to_be_visible()


def _local(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("Europe/Amsterdam")).strftime("%Y-%m-%dT%H:%M")


def _create_event(page: Page, site: str, clock: FixedClock, title: str,
                  check: Callable[..., None]) -> str:  # fmt: skip
    page.goto(f"{site}/console/events/new")
    check(page)
    starts = clock.now() + timedelta(days=20)
    page.get_by_label("Title").fill(title)
    page.get_by_label("Description").fill("Mahler's fifth, live.")
    page.get_by_label(re.compile("^Starts")).fill(_local(starts))
    page.get_by_label(re.compile("^Ends")).fill(_local(starts + timedelta(hours=2)))
    page.get_by_label("Hybrid: online and in the venue").check()
    page.get_by_label(re.compile("^Playback origin")).fill("https://origin.example.org/live")
    page.get_by_role("button", name="Create the event").click()
    expect(page).to_have_url(re.compile(r"/console/events/evt_\w+\?done=created"))
    found = re.search(r"/console/events/(evt_\w+)", page.url)
    assert found
    return found.group(1)


def _add_tier(page: Page, name: str, price: str, *, capacity: str = "", quality: str = "HD",
              seat: bool = False) -> None:  # fmt: skip
    form = page.locator("#form-tier-new")
    form.get_by_label("Name").fill(name)
    form.get_by_label(re.compile("^Price in EUR")).fill(price)
    form.get_by_label(re.compile("^Capacity")).fill(capacity)
    form.get_by_label("Quality").select_option(label=quality)
    if seat:
        form.get_by_label(re.compile("^A seat in the venue")).check()
    form.get_by_role("button", name="Add the tier").click()
    expect(page.locator("#event-done")).to_be_visible()


@pytest.mark.stripe
def test_an_admin_sets_up_an_event_publishes_it_and_finds_it_in_the_catalogue(
    settings: Settings, clock: FixedClock, site: str, new_page: PageFactory,
    assert_accessible: Callable[..., None], capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    page = new_page("en-GB")
    _admin_behind_two_factors(settings, clock, site, page, capsys, assert_accessible)
    assert_accessible(page)

    event_id = _create_event(page, site, clock, "Mahler 5", assert_accessible)
    checklist = page.locator("#checklist")
    expect(checklist).to_contain_text("Add at least one tier.")
    expect(checklist).to_contain_text("Set a split rule.")
    assert_accessible(page)

    _add_tier(page, "Stream HD", "15,00")
    _add_tier(page, "Seat in the hall", "45.00", capacity="300", quality="SD", seat=True)
    expect(page.locator("#tiers tbody tr")).to_have_count(2)
    expect(page.locator("#tiers tbody")).to_contain_text("€45.00")

    form = page.locator("#performers form")
    for name, email in (("Iván Fischer", "ivan@example.org"), ("Anna Vinnitskaya",
                        "anna@example.org"), ("Lucas Jussen", "lucas@example.org")):  # fmt: skip
        form = page.locator("#performers form")
        for box in form.get_by_role("checkbox").all():
            box.check()
        form.get_by_label("Name").fill(name)
        form.get_by_label(re.compile("^E-mail address")).fill(email)
        form.get_by_role("button", name="Save the performers").click()
        expect(page.locator("#event-done")).to_be_visible()
    expect(page.locator("#performers form").get_by_role("checkbox", checked=True)).to_have_count(3)
    assert_accessible(page)

    split = page.locator("#split-form")
    split.get_by_label("Concertgebouw", exact=True).fill("55")
    for name in ("Iván Fischer", "Anna Vinnitskaya", "Lucas Jussen"):
        split.get_by_label(name, exact=True).fill("15")
    split.get_by_label("Platform fee (%)").fill("5")
    split.get_by_label("Cost 1: what for").fill("Sound engineer")
    split.get_by_label("Cost 1: amount").fill("250,00")
    split.get_by_label(re.compile("^Preview: sample revenue")).fill("2000,00")
    split.get_by_role("button", name="Show what each party gets").click()
    result = page.locator("#split-preview-result")
    expect(result).to_contain_text("Iván Fischer (15%)")
    expect(result).to_contain_text("Sound engineer")
    assert_accessible(page)
    split.get_by_role("button", name="Save the split rule").click()
    expect(page.locator("#split")).to_contain_text("Version 1 is in force.")
    expect(page.locator("#checklist-complete")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.locator("#event-status")).to_have_text("On sale")
    expect(page.locator("#embed-snippet")).to_contain_text(f"/events/{event_id}")
    assert_accessible(page)

    page.goto(f"{site}/")
    page.get_by_role("link", name=re.compile("Mahler 5")).first.click()
    expect(page).to_have_url(f"{site}/events/{event_id}")
    expect(page.get_by_role("heading", name="Seat in the hall")).to_be_visible()
    assert_accessible(page)


@pytest.mark.stripe
def test_cancelling_an_event_with_three_paid_orders_shows_progress_to_3_of_3(
    settings: Settings, clock: FixedClock, site: str, client: TestClient, database: Database,
    new_page: PageFactory, assert_accessible: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    page = new_page("en-GB")
    _admin_behind_two_factors(settings, clock, site, page, capsys)
    event_id = _create_event(page, site, clock, "Requiem", assert_accessible)
    _add_tier(page, "Stream HD", "20")
    page.locator("#split-form").get_by_label("Concertgebouw", exact=True).fill("100")
    page.get_by_role("button", name="Save the split rule").click()
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.locator("#event-status")).to_have_text("On sale")
    # Three orders through the public API (PaymentIntents at localstripe), paid by
    # Stripe's signed webhook.
    tiers = client.get(f"/v1/public/events/{event_id}").json()["tiers"]
    for i in range(3):
        order = buy(client, event_id, tiers[0]["id"], email=f"buyer{i}@example.org")
        s.deliver(client, s.succeeded(order))
    s.drain(database, clock)

    page.goto(f"{site}/console/events/{event_id}")
    page.get_by_role("link", name=re.compile("^Cancel the event and refund")).click()
    expect(page.locator("#cancel-summary")).to_have_text(
        "3 paid orders will be refunded: €60.00 in all."
    )
    assert_accessible(page)
    page.get_by_role("button", name="Cancel the event and refund").click()
    expect(page).to_have_url(re.compile(rf"/console/events/{event_id}/cancellation\?job=job_"))
    expect(page.locator("#job-text")).to_contain_text("orders settled")
    assert_accessible(page)

    job_id = page.url.rsplit("=", 1)[1]
    # What the worker does with the job. A worker of an earlier test in this session
    # may already have taken it from the broker; running a finished job does nothing.
    cancellation.run(database, job_id, clock.now())
    expect(page.locator("#job-text")).to_have_text("3 of 3 orders settled Done.", timeout=15_000)
    expect(page.locator("#job-progress")).to_have_attribute("value", "3")
    assert_accessible(page)
