"""The console's orders, audit log and door check-in in Chromium, axe on every page.

(3) After a purchase through the API (paid at localstripe), the admin (two-factor on)
    logs in with password and code, finds the order by e-mail, refunds 5 EUR, then the
    rest; the audit page lists both refunds with the admin's name, and the buyer's
    watch link now opens a page that says the ticket no longer gives access.
(7) A door member checks a seat ticket in with the camera page (Chromium's fake camera
    playing a video of the ticket's QR code): the first scan admits, the second says
    already in; a refunded ticket (typed) is refused.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import segno
from playwright.sync_api import Browser, Page, expect
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from tests.browser.conftest import CHROMIUM, PageFactory
from tests.console.helpers import console_shop, tickets
from tests.factories import buy, ok
from tests.orders import scenarios as s
from tests.staff.helpers import PASSWORD, enrol_totp, member_signed_in
from tests.stripe_helpers import pay_with_card

pytestmark = [pytest.mark.browser, pytest.mark.stripe]


def _bought(client: TestClient, database: Database, clock: FixedClock, localstripe: str,
            event_id: str, tier_id: str, email: str, quantity: int = 2) -> dict[str, Any]:  # fmt: skip
    """Bought through the API, paid by card at localstripe, confirmed by its webhook."""
    order: dict[str, Any] = buy(client, event_id, tier_id, quantity=quantity, email=email)
    pay_with_card(localstripe, order["payment"]["payment_intent_id"])
    s.deliver(client, s.succeeded(order))
    s.drain(database, clock)
    return order


def _log_in(page: Page, site: str, email: str, then: str, code: str | None = None) -> None:
    """Log in on the way to `then`; with `code`, the one-time code the login then asks."""
    page.goto(f"{site}{then}")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    if code is not None:
        page.get_by_label("One-time code").fill(code)
        page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{site}{then}")


def _refund(page: Page, amount: str, accessible: Callable[..., None]) -> None:
    page.get_by_label(re.compile(r"^Amount")).fill(amount)
    page.get_by_role("button", name="Refund…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Refund order")
    accessible(page)
    page.get_by_role("button", name="Refund", exact=True).click()
    expect(page.locator("#order-done")).to_have_text("The refund is on its way to the buyer.")


def test_the_admin_finds_an_order_refunds_twice_and_reads_the_audit_log(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    localstripe: str, site: str, new_page: PageFactory,
    assert_accessible: Callable[..., None],
) -> None:  # fmt: skip
    shop = console_shop(client, queue, database, settings, clock)
    order = _bought(client, database, clock, localstripe, shop.event["id"], shop.seat_tier,
                    "fan@example.org")  # fmt: skip
    _bought(client, database, clock, localstripe, shop.event["id"], shop.stream_tier,
            "other@example.org", quantity=1)  # fmt: skip
    shop.admin.totp_secret, _ = enrol_totp(client, clock.now())
    clock.advance(seconds=30)  # the app's next code: one used before is refused
    page = new_page("en-GB")
    _log_in(page, site, shop.admin.email, "/console/orders", shop.admin.code(clock.now()))
    assert_accessible(page)
    page.get_by_label("E-mail address of the buyer").fill("fan@example.org")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#orders tbody tr")
    expect(rows).to_have_count(1)
    assert_accessible(page)
    rows.get_by_role("link", name=order["id"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order['id']}")
    assert_accessible(page)

    _refund(page, "5", assert_accessible)
    expect(page.locator("#order-refunded")).to_have_text("€5.00")
    assert_accessible(page)
    _refund(page, "", assert_accessible)  # empty: all that is left
    expect(page.locator("#order-refunded")).to_have_text("€50.00")
    expect(page.locator("#order-status")).to_have_text("Refunded")
    staff = ok(client.get(f"/v1/orders/{order['id']}", headers=shop.venue.headers))
    assert sorted(r["amount"] for r in staff["refunds"]) == [500, 4500]

    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    refunds = page.locator("#audit tbody tr", has_text="Order refunded")
    expect(refunds).to_have_count(2)
    for row in range(2):
        expect(refunds.nth(row).locator(".audit-actor")).to_contain_text("Ada Admin")
    expect(refunds.nth(0)).to_contain_text("€45.00")
    expect(refunds.nth(1)).to_contain_text("€5.00")
    assert_accessible(page)

    # The buyer opens the mail's watch link (the code in the fragment): access ended.
    watcher = new_page("en-GB")
    ticket = tickets(client, shop, order["id"])[0]
    watcher.goto(f"{site}/watch/{ticket['id']}#code={ticket['code']}")
    expect(watcher.locator("#watch-message")).to_have_text(
        "This ticket no longer gives access: the order was refunded or cancelled, or the "
        "ticket was withdrawn. If you think this is a mistake, contact the organiser."
    )
    expect(watcher).to_have_url(f"{site}/watch/{ticket['id']}")  # the code left the bar
    expect(watcher.locator("#player")).to_be_hidden()
    assert_accessible(watcher)


def _qr_video(code: str, folder: Path) -> Path:
    """A short y4m video of the code's QR code (segno's PNG, through ffmpeg), for
    Chromium's fake camera."""
    png, video = folder / "ticket.png", folder / "ticket.y4m"
    segno.make(code, error="m").save(str(png), scale=12, border=6)
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-loop", "1", "-i", str(png), "-t", "2",
         "-r", "10", "-vf", "scale=640:480:force_original_aspect_ratio=decrease,"
         "pad=640:480:(ow-iw)/2:(oh-ih)/2:white,format=yuv420p", str(video)],
        check=True, timeout=120,
    )  # fmt: skip
    return video


def test_the_door_checks_a_seat_ticket_in_with_the_camera(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    localstripe: str, site: str, browser: Browser, tmp_path: Path,
    assert_accessible: Callable[..., None],
) -> None:  # fmt: skip
    starts = clock.now() + timedelta(hours=2)
    shop = console_shop(client, queue, database, settings, clock, starts_at=starts.isoformat(),
                        ends_at=(starts + timedelta(hours=3)).isoformat())  # fmt: skip
    order = _bought(client, database, clock, localstripe, shop.event["id"], shop.seat_tier,
                    "fan@example.org", quantity=1)  # fmt: skip
    refunded = _bought(client, database, clock, localstripe, shop.event["id"], shop.seat_tier,
                       "late@example.org", quantity=1)  # fmt: skip
    ok(client.post(f"/v1/orders/{refunded['id']}/refunds", json={}, headers=shop.venue.headers),
       202)  # fmt: skip
    [ticket] = tickets(client, shop, order["id"])
    [gone] = tickets(client, shop, refunded["id"])
    member_signed_in(client, queue, database, settings, clock.now(), "dora@example.org", "door")
    video = _qr_video(ticket["code"], tmp_path)

    camera = browser.browser_type.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ])  # fmt: skip
    try:
        context = camera.new_context(locale="en-GB")
        context.set_default_timeout(15_000)
        context.grant_permissions(["camera"], origin=site)
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        _log_in(page, site, "dora@example.org", "/console/check-in")
        expect(page.get_by_role("heading", level=1)).to_have_text("Check-in")
        nav = page.get_by_role("navigation", name="Console")
        expect(nav.get_by_role("link")).to_have_text(["Check-in", "My account"])
        assert_accessible(page)

        page.get_by_role("button", name="Scan a ticket").click()
        expect(page.locator("#verdict")).to_contain_text("Admitted")
        assert_accessible(page)
        page.get_by_role("button", name="Scan a ticket").click()
        expect(page.locator("#verdict")).to_contain_text("Already in at 13:00")

        page.get_by_label("Ticket code").fill(gone["code"])
        page.get_by_role("button", name="Admit").click()
        expect(page.locator("#verdict")).to_contain_text("This ticket was refunded.")
        assert_accessible(page)
        assert not problems, problems
    finally:
        camera.close()
