"""A recording rented in a real browser, paid, started and watched until its window ends.

A venue's published recording offers a 48-hour rental (30 days to start) whose media
is ffmpeg's HLS under /vod/{recording id}/ on a real nginx (auth_request to the
service, CORS for the pages, as in test_watch.py). The buyer fills the rental's form on
the recording page, pays with localstripe's test card on the checkout page (simulated
mode, as test_checkout.py); localstripe's signed webhook and a real Celery worker
settle the order, and the order page shows the Watch link. The watch page waits for
"Start watching"; pressed, the rental's window opens and the recording plays. With the
test's clock moved 47 hours it still plays; past 48 hours the page says the window is
over and the media is refused. axe-core checks every page on the way.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Response, expect
from starlette.testclient import TestClient

from config.settings import SIMULATED_STRIPE_KEY, Settings
from streamsvc.kit.clock import FixedClock
from tests.browser.test_checkout import CARD_ELEMENT, GOOD, _pay
from tests.browser.test_watch import RunningClock, _message, _playing, _plays, _stopped
from tests.e2e.media import Nginx, make_hls, media_stack_available
from tests.factories import make_venue
from tests.harness import TEST_WEBHOOK_SECRET, Infrastructure, WorkerProcess
from tests.recordings.helpers import published_recording
from tests.stripe_helpers import register_webhook, unregister_webhook

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.stripe,
              pytest.mark.timeout(600)]  # fmt: skip

SECONDS = 120  # of recording: longer than the test watches, so segments keep being fetched
TOKEN_TTL = 30  # the shortest the settings allow: the page renews every 15 seconds


@pytest.fixture(scope="module")
def media_stack() -> None:
    if not media_stack_available():
        pytest.skip("nginx or ffmpeg could not be installed on this machine")


@pytest.fixture
def clock() -> FixedClock:
    # In real time from now: the worker (system clock) settles the order and writes the
    # rental's start-by on the same time line as the pages; the test moves it on by hours.
    return RunningClock()


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    return infra.settings(stripe_api_key=SIMULATED_STRIPE_KEY, missing_country="allow",
                          order_rate_per_ip=1000, recording_paid_sales=True,
                          viewing_token_ttl_seconds=TOKEN_TTL)  # fmt: skip


@pytest.fixture
def nginx(media_stack: None, site: str, tmp_path: Path) -> Iterator[Nginx]:
    (tmp_path / "www" / "vod").mkdir(parents=True)
    server = Nginx(tmp_path, site, pages_origin=site)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def webhooks(site: str, localstripe: str, worker: WorkerProcess) -> Iterator[str]:
    """localstripe sends its signed events to the site's webhook; a worker processes."""
    name, url = f"recording-{uuid.uuid4().hex[:8]}", f"{site}/v1/stripe/webhook"
    register_webhook(localstripe, url, TEST_WEBHOOK_SECRET, name=name)
    yield site
    unregister_webhook(localstripe, url, name=name)


class Media:
    """What the page asked of nginx, (path, status) of each answer, and the statuses of
    its renewals (heartbeat, or redeeming again) at the service."""

    def __init__(self, page: Page, origin: str) -> None:
        self.answers: list[tuple[str, int]] = []
        self.tokens: list[str] = []
        self.renewals: list[int] = []
        self.origin = origin
        page.on("response", self._seen)

    def _seen(self, answer: Response) -> None:
        if re.search(r"/watch/recordings/rac_\w+/(heartbeat|session)$", answer.url):
            self.renewals.append(answer.status)
        elif answer.url.startswith(self.origin) and answer.request.method == "GET":
            url = urlsplit(answer.url)
            self.answers.append((url.path, answer.status))
            self.tokens.extend(parse_qs(url.query).get("token", []))

    def segments(self, status: int) -> list[str]:
        return [path for path, code in self.answers if code == status and path.endswith(".ts")]

    def statuses_since(self, count: int) -> list[int]:
        return [code for _, code in self.answers[count:]]


def _facts(page: Page) -> Any:
    return page.locator("#watch .facts")


def test_a_rental_is_paid_started_watched_and_ends_after_48_hours(
    webhooks: str, nginx: Nginx, client: TestClient, clock: FixedClock, tmp_path: Path,
    new_page: Callable[..., Page], assert_accessible: Callable[..., None],
) -> None:  # fmt: skip
    site = webhooks
    venue = make_venue(client, name="Bimhuis")
    recording = published_recording(client, venue, title="Test pattern, recorded",
                                     playback=nginx.base_url)  # fmt: skip
    recording_id = recording["id"]
    make_hls(tmp_path / "www", recording_id, seconds=SECONDS, prefix="vod")
    email = f"renter-{uuid.uuid4().hex[:8]}@example.org"
    page = new_page()
    media = Media(page, nginx.base_url)

    # The recording page: the rental's own form.
    page.goto(f"{site}/recordings/{recording_id}")
    rental = page.locator("#offer-rental")
    expect(rental).to_contain_text("Start within 30 days, then watch for 48 hours.")
    assert_accessible(page)
    rental.get_by_label("E-mail address").fill(email)
    rental.get_by_label("Country").select_option("NL")
    rental.get_by_role("button", name="Pay €4.99").click()

    page.wait_for_url(re.compile(r"/checkout/ord_[A-Za-z0-9]+$"))
    expect(page.get_by_role("heading", name="Pay for your recording")).to_be_visible()
    expect(page.locator("#order-total")).to_have_text("€4.99")
    assert_accessible(page, exclude=[CARD_ELEMENT])
    _pay(page, GOOD)

    page.wait_for_url(re.compile(r"/orders/ord_[A-Za-z0-9]+$"))
    watch = page.get_by_role("link", name="Watch (Test pattern, recorded)")
    expect(watch).to_be_visible(timeout=60_000)
    expect(page.locator("#recording-terms")).to_have_text(
        "Start within 30 days; plays for 48 hours once started."
    )
    assert_accessible(page)
    href = watch.get_attribute("href")
    assert href is not None and re.fullmatch(
        r"/watch/recordings/rac_[A-Za-z0-9]+#code=[A-Za-z0-9_-]+", href
    ), href
    watch.click()

    # The watch page: looking at it starts nothing; "Start watching" opens the window.
    start = page.get_by_role("button", name="Start watching")
    expect(start).to_be_visible(timeout=20_000)
    assert "code" not in page.url and re.search(r"/watch/recordings/rac_\w+$", page.url)
    expect(_message(page)).to_contain_text("once started it plays for 48 hours")
    expect(_facts(page)).to_contain_text("Start by")
    assert media.answers == []
    assert_accessible(page)
    start.click()
    _playing(page)
    _plays(page)
    played = media.segments(200)
    assert played and all(p.startswith(f"/vod/{recording_id}/") for p in played), media.answers
    # Started, the page says at once until when it plays, not "Start by" any more.
    expect(_facts(page)).to_contain_text("Plays until")
    expect(_facts(page)).to_contain_text("(47 hours left)")
    expect(_facts(page)).not_to_contain_text("Start by")
    # Reloaded, the page says the same, and plays on by itself.
    page.reload()
    expect(_facts(page)).to_contain_text("Plays until")
    expect(_facts(page)).to_contain_text("(47 hours left)")
    expect(start).to_be_hidden()
    _playing(page)
    _plays(page)
    assert_accessible(page)

    # 47 hours on: the token the player holds has long expired; it renews and plays on.
    clock.advance(hours=47)
    before, renewed = len(media.answers), len(media.renewals)
    _plays(page, timeout=40)
    expect(_message(page)).to_have_text("Playing.")
    deadline = time.monotonic() + 30
    while 200 not in media.statuses_since(before):
        assert time.monotonic() < deadline, media.answers[before:]
        page.wait_for_timeout(200)
    # The renewal comes when the player's timer says (every 15 s): wait for it, however
    # slow the machine, rather than expect it by the first segment.
    deadline = time.monotonic() + 40
    while not {200, 201} & set(media.renewals[renewed:]):
        assert time.monotonic() < deadline, media.renewals
        page.wait_for_timeout(200)
    page.reload()
    expect(_facts(page)).to_contain_text("less than an hour left")
    _playing(page)
    _plays(page)

    # Past 48 hours: the next renewal is refused, the page says so and stops.
    clock.advance(hours=1, minutes=1)
    renewed = len(media.renewals)
    over = "The viewing window of this rental is over."
    expect(_message(page)).to_have_text(over, timeout=40_000)
    assert {403, 410} & set(media.renewals[renewed:]), media.renewals
    assert _stopped(page)
    expect(page.locator("#player")).to_be_hidden()
    assert_accessible(page)
    page.reload()
    expect(_message(page)).to_have_text(over)
    expect(start).to_be_hidden()
    expect(page.locator("#player")).to_be_hidden()
    # The player's last token no longer fetches anything at the origin.
    last = media.tokens[-1]
    refused = httpx.get(f"{nginx.base_url}/vod/{recording_id}/sd/index.m3u8",
                        params={"token": last}, headers={"Origin": site})  # fmt: skip
    assert refused.status_code in (401, 403), refused.text
