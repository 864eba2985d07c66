"""A season pass in a real browser, from the catalogue to watching a concert.

The buyer finds the pass in the catalogue's "Season passes", opens its page, enters an
e-mail address and presses Pay; the checkout is the orders' own, in simulated mode
(localstripe's Stripe.js stand-in, our server confirming the card token); localstripe
sends the signed webhook and a real Celery worker settles the order and mails the
pass's link. The order page says so; the mailed link (code in the fragment) opens the
pass page, where the holder claims two concerts and watches one: its stream (ffmpeg's
HLS through a real nginx with auth_request, as in test_watch.py) plays. axe-core
checks every page on the way.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from config.settings import SIMULATED_STRIPE_KEY, Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.passes import products
from streamsvc.passes.models import LateRefund, Weighting
from tests.browser.test_checkout import CARD_ELEMENT, GOOD, _mail_to, _pay
from tests.browser.test_watch import RunningClock, _playing, ok
from tests.e2e.media import Nginx, make_hls, media_stack_available
from tests.factories import PLATFORM, bearer
from tests.harness import TEST_WEBHOOK_SECRET, Infrastructure, WorkerProcess
from tests.mailbox import Mailbox
from tests.stripe_helpers import register_webhook, unregister_webhook

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.stripe,
              pytest.mark.timeout(600)]  # fmt: skip

SECONDS = 120  # of stream: longer than the test watches


@pytest.fixture(scope="module")
def media_stack() -> None:
    if not media_stack_available():
        pytest.skip("nginx or ffmpeg could not be installed on this machine")


@pytest.fixture
def clock() -> FixedClock:
    return RunningClock()  # viewing tokens expire and renew in real time


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    return infra.settings(stripe_api_key=SIMULATED_STRIPE_KEY, missing_country="allow",
                          order_rate_per_ip=1000)  # fmt: skip


@pytest.fixture
def nginx(media_stack: None, site: str, tmp_path: Path) -> Iterator[Nginx]:
    (tmp_path / "www" / "live").mkdir(parents=True)
    server = Nginx(tmp_path, site, pages_origin=site)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def webhooks(site: str, localstripe: str, worker: WorkerProcess) -> Iterator[str]:
    """localstripe sends its signed events to the site's webhook; a worker processes."""
    name, url = f"passes-{uuid.uuid4().hex[:8]}", f"{site}/v1/stripe/webhook"
    register_webhook(localstripe, url, TEST_WEBHOOK_SECRET, name=name)
    yield site
    unregister_webhook(localstripe, url, name=name)


def _season(
    site: str, database: Database, clock: FixedClock, playback: str
) -> tuple[str, list[str]]:
    """A venue's three online concerts (the first with doors open now) and a published
    season pass covering them: (pass id, concert ids)."""
    with httpx.Client(base_url=site, timeout=30) as api:
        venue = ok(api.post("/v1/venues", headers=PLATFORM, json={
            "name": "Muziekcentrum", "country": "NL", "currency": "EUR",
            "timezone": "Europe/Amsterdam"}), 201)  # fmt: skip
        staff, venue_id = bearer(venue["api_key"]["key"]), venue["venue"]["id"]
        concerts, tiers = [], []
        for number in range(3):
            starts = clock.now() + timedelta(minutes=10) + timedelta(days=7 * number)
            event = ok(api.post("/v1/events", headers=staff, json={
                "title": f"Concert {number + 1}", "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=2)).isoformat(),
                "timezone": "Europe/Amsterdam", "attendance_mode": "online",
                "doors_open_minutes": 30, "playback": playback}), 201)  # fmt: skip
            tier = ok(api.post(f"/v1/events/{event['id']}/tiers", headers=staff, json={
                "name": "Stream", "price_amount": 2500, "vat_rate_bps": 900,
                "access": {"quality": "hd", "max_devices": 1}}), 201)  # fmt: skip
            ok(api.put(f"/v1/events/{event['id']}/split-rule", headers=staff, json={
                "platform_fee_bps": 0,
                "shares": [{"party": {"type": "venue", "id": venue_id}, "bps": 10000}]}))  # fmt: skip
            ok(api.post(f"/v1/events/{event['id']}/publish", headers=staff))
            concerts.append(event["id"])
            tiers.append(tier["id"])
    setup = products.PassSetup(
        name="Seizoen 2027", description="Three concerts, one pass.", price_amount=6000,
        vat_rate_bps=900, currency="EUR", capacity=20, sales_start=None, sales_end=None,
        max_claims=None, transferable=False, weighting=Weighting.equal,
        late_refund=LateRefund.unplayed,
    )  # fmt: skip
    with database.unit_of_work() as uow:
        product = products.create_pass(uow.session, venue_id, setup, clock.now())
        for event_id, tier_id in zip(concerts, tiers, strict=True):
            products.add_event(uow.session, venue_id, product.id, event_id, tier_id=tier_id,
                               now=clock.now())  # fmt: skip
        products.set_published(uow.session, venue_id, product.id, True, clock.now())
        return product.id, concerts


def test_a_pass_is_bought_claimed_twice_and_watched(
    webhooks: str, nginx: Nginx, database: Database, clock: FixedClock, mailbox: Mailbox,
    tmp_path: Path, new_page: Callable[..., Page], assert_accessible: Callable[..., None],
) -> None:  # fmt: skip
    site = webhooks
    pass_id, concerts = _season(site, database, clock, f"{nginx.base_url}/live")
    email = f"holder-{uuid.uuid4().hex[:8]}@example.org"
    page = new_page()

    page.goto(f"{site}/")
    passes = page.get_by_role("region", name="Season passes")
    expect(passes).to_be_visible()
    assert_accessible(page)
    passes.get_by_role("link", name="Seizoen 2027").click()
    page.wait_for_url(f"{site}/season-passes/{pass_id}")
    expect(page.locator("#pass-events li")).to_have_count(3)
    assert_accessible(page)
    page.get_by_label("E-mail address").fill(email)
    page.get_by_role("button", name=re.compile("^Pay")).click()

    page.wait_for_url(re.compile(r"/checkout/ord_[A-Za-z0-9]+$"))
    expect(page.get_by_role("heading", name="Pay for your season pass")).to_be_visible()
    expect(page.locator("#order-total")).to_have_text("€60.00")
    assert_accessible(page, exclude=[CARD_ELEMENT])
    _pay(page, GOOD)

    page.wait_for_url(re.compile(r"/orders/ord_[A-Za-z0-9]+$"))
    expect(page.locator("#pass-mailed")).to_be_visible(timeout=60_000)
    assert_accessible(page)

    mail = _mail_to(mailbox, email)
    link = re.search(r"/passes/(hld_[A-Za-z0-9]+)#code=([A-Za-z0-9_-]+)", mail)
    assert link is not None, mail
    holder = new_page()  # the mail opened in another browser: the link alone suffices
    holder.goto(f"{site}{link.group(0)}")
    claim = holder.get_by_role("button", name=re.compile(r"^Claim"))
    expect(claim).to_have_count(3)
    assert "code" not in holder.url  # the code left the address bar for a cookie
    assert_accessible(holder)
    for title in ("Concert 1", "Concert 2"):
        holder.get_by_role("button", name=f"Claim ({title})").click()
        expect(holder.get_by_role("link", name=f"Watch ({title})")).to_be_visible()
    expect(claim).to_have_count(1)
    assert_accessible(holder)

    holder.get_by_role("link", name="Watch (Concert 1)").click()
    holder.wait_for_url(re.compile(r"/watch/tkt_[A-Za-z0-9]+$"))
    make_hls(tmp_path / "www", concerts[0], seconds=SECONDS, subtitles="en")
    _playing(holder)
    assert_accessible(holder)
