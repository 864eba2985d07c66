"""The watch page in a real browser, the stream on another origin: the pages on the
service's port, the HLS stream (ffmpeg's, with subtitles) through a real nginx with
auth_request and CORS on another port.

(a) the page hands the code over, waits quietly for a stream that has not started,
    plays it with the tier's qualities only and subtitles, renews the token while
    playing, and stops within seconds of a refund;
(b) a second browser on the same ticket meets the device limit, or, on a drop-oldest
    tier, takes over, and the first says so and can take it back;
(c) the page in Dutch, before doors-open: the countdown.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from config.settings import Settings
from streamsvc.kit.clock import FixedClock
from tests.e2e.media import Nginx, make_hls, media_stack_available
from tests.factories import PLATFORM, bearer
from tests.harness import TEST_WEBHOOK_SECRET, Infrastructure, WorkerProcess
from tests.orders import scenarios as s
from tests.stripe_helpers import pay_with_card

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.timeout(600)]

TOKEN_TTL = 30  # the shortest the settings allow: renewed every 15 seconds
STREAM_SECONDS = 150  # longer than test (a) plays, so segments are still being fetched


@pytest.fixture(scope="module")
def media_stack() -> None:
    if not media_stack_available():
        pytest.skip("nginx or ffmpeg could not be installed on this machine")


class RunningClock(FixedClock):
    """The test's clock, running in real time: tokens expire and are renewed as for a
    viewer, and the worker (its own process, the system's clock) agrees with it."""

    def __init__(self) -> None:
        super().__init__(datetime.now(UTC))
        self._started = time.monotonic()

    def now(self) -> datetime:
        return self.at + timedelta(seconds=time.monotonic() - self._started)


@pytest.fixture
def clock() -> FixedClock:
    return RunningClock()


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    return infra.settings(missing_country="allow", viewing_token_ttl_seconds=TOKEN_TTL)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@dataclass
class Shop:
    """A venue with one online event streamed from `nginx`, built through the API."""

    api: httpx.Client
    localstripe: str
    staff: dict[str, str]
    event_id: str
    tiers: dict[str, str]  # name -> tier id

    def ticket(self, tier: str) -> tuple[str, str, str]:
        """A paid order of one ticket of `tier`: (order id, ticket id, ticket code)."""
        order = ok(self.api.post(f"/v1/public/events/{self.event_id}/orders", json={
            "email": f"{tier}@example.org", "country": "NL",
            "items": [{"tier_id": self.tiers[tier], "quantity": 1}]}), 201)  # fmt: skip
        pay_with_card(self.localstripe, order["payment"]["payment_intent_id"])
        body, headers = s.signed_webhook(s.succeeded(order), TEST_WEBHOOK_SECRET)
        ok(self.api.post("/v1/stripe/webhook", content=body, headers=headers))
        deadline = time.monotonic() + 60
        while not (view := ok(self.api.get(f"/v1/orders/{order['id']}", headers=self.staff)))[
            "tickets"
        ]:
            assert time.monotonic() < deadline, "the worker did not issue the ticket"
            time.sleep(0.2)
        ticket = view["tickets"][0]
        return order["id"], ticket["id"], ticket["code"]


def _shop(api: httpx.Client, localstripe: str, playback: str, starts: datetime) -> Shop:
    venue = ok(api.post("/v1/venues", headers=PLATFORM, json={
        "name": "Stadsschouwburg", "country": "NL", "currency": "EUR",
        "timezone": "Europe/Amsterdam"}), 201)  # fmt: skip
    staff = bearer(venue["api_key"]["key"])
    event = ok(api.post("/v1/events", headers=staff, json={
        "title": "Test Pattern Live", "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=3)).isoformat(), "timezone": "Europe/Amsterdam",
        "attendance_mode": "online", "doors_open_minutes": 30, "playback": playback}), 201)  # fmt: skip
    accesses = {
        "sd": {"quality": "sd", "max_devices": 1},
        "one": {"quality": "hd", "max_devices": 1, "on_device_limit": "refuse"},
        "swap": {"quality": "hd", "max_devices": 1, "on_device_limit": "drop_oldest"},
    }
    tiers = {
        name: ok(api.post(f"/v1/events/{event['id']}/tiers", headers=staff, json={
            "name": name.upper(), "price_amount": 1000, "vat_rate_bps": 2100,
            "access": access}), 201)["id"]
        for name, access in accesses.items()
    }  # fmt: skip
    ok(api.put(f"/v1/events/{event['id']}/split-rule", headers=staff, json={
        "platform_fee_bps": 0, "shares": [{"party": {"type": "venue", "id": venue["venue"]["id"]},
                                           "bps": 10000}]}))  # fmt: skip
    ok(api.post(f"/v1/events/{event['id']}/publish", headers=staff))
    return Shop(api, localstripe, staff, event["id"], tiers)


@dataclass
class Stage:
    """The service, its shop, and the stream's origin (nginx on another port)."""

    site: str
    shop: Shop
    nginx: Nginx
    www: Path

    def stream(self) -> None:
        make_hls(self.www, self.shop.event_id, seconds=STREAM_SECONDS, subtitles="en")

    def link(self, ticket_id: str, code: str) -> str:
        """The mail's and order page's Watch link: the code in the fragment."""
        return f"{self.site}/watch/{ticket_id}#code={code}"


@pytest.fixture
def stage(
    media_stack: None, site: str, worker: WorkerProcess, localstripe: str, tmp_path: Path
) -> Iterator[Stage]:
    www = tmp_path / "www"
    (www / "live").mkdir(parents=True)
    nginx = Nginx(tmp_path, site, pages_origin=site)
    try:
        with httpx.Client(base_url=site, timeout=30) as api:
            starts = datetime.now(UTC) + timedelta(minutes=10)  # doors are open
            yield Stage(site, _shop(api, localstripe, f"{nginx.base_url}/live", starts),
                        nginx, www)  # fmt: skip
    finally:
        nginx.stop()


def _time(page: Page) -> float:
    return float(page.evaluate("document.getElementById('video').currentTime"))


def _plays(page: Page, beyond: float | None = None, timeout: float = 30) -> float:
    """Wait until the video's clock passes `beyond` (or its current time): it plays."""
    start = _time(page) if beyond is None else beyond
    deadline = time.monotonic() + timeout
    while (now := _time(page)) <= start + 0.5:
        assert time.monotonic() < deadline, f"the video does not play (at {now}s)"
        page.wait_for_timeout(200)
    return now


def _stopped(page: Page) -> bool:
    """Paused with nothing to play: the player was torn down."""
    return bool(page.evaluate(
        "(() => { const v = document.getElementById('video');"
        " return v.paused && v.readyState === 0 && !v.getAttribute('src'); })()"
    ))  # fmt: skip


def _until(page: Page, script: str, timeout: float = 20) -> None:
    """Poll a JavaScript expression until it is true (CSP forbids wait_for_function's eval)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(script):
        assert time.monotonic() < deadline, f"never true: {script}"
        page.wait_for_timeout(200)


def _playing(page: Page) -> None:
    """Until the page says it plays; where the browser wants a click before sound, the
    page offers Play, and the viewer presses it."""
    ready = _message(page).filter(has_text=re.compile(r"^(Playing\.|Ready\. Press Play)"))
    expect(ready).to_be_visible(timeout=30_000)
    play = page.get_by_role("button", name="Play", exact=True)
    if play.is_visible():
        play.click()
    expect(_message(page)).to_have_text("Playing.")


def _message(page: Page) -> Any:
    return page.locator("#watch-message")


def _cors_answers_the_pages_alone(stage: Stage) -> None:
    """nginx answers a preflight 204 without asking authorize (it carries no token), and
    names the pages' origin on every answer, refusals too, and no other origin."""
    playlist = f"{stage.nginx.base_url}/live/{stage.shop.event_id}/index.m3u8"
    preflight = httpx.options(playlist, headers={
        "Origin": stage.site, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-viewing-token"})  # fmt: skip
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == stage.site
    assert "x-viewing-token" in preflight.headers["access-control-allow-headers"].lower()
    refused = httpx.get(playlist, headers={"Origin": stage.site})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == stage.site
    stranger = httpx.get(playlist, headers={"Origin": "https://elsewhere.example"})
    assert stranger.status_code == 401 and "access-control-allow-origin" not in stranger.headers


def test_watching_renewing_and_a_refund_stopping_it(
    stage: Stage, clock: FixedClock, settings: Settings, new_page: Callable[..., Page],
    assert_accessible: Callable[..., None],
) -> None:  # fmt: skip
    order_id, ticket_id, code = stage.shop.ticket("sd")
    page = new_page()
    heartbeats: list[int] = []
    media_tokens: list[str] = []
    media_paths: list[str] = []
    media_statuses: list[int] = []

    def response(answer: Any) -> None:
        if answer.url.endswith(f"/watch/{ticket_id}/heartbeat"):
            heartbeats.append(answer.status)
        elif answer.url.startswith(stage.nginx.base_url):
            media_statuses.append(answer.status)

    page.on("response", response)

    def media(request: Any) -> None:
        url = urlsplit(request.url)
        if request.url.startswith(stage.nginx.base_url) and request.method == "GET":
            media_paths.append(url.path)
            media_tokens.extend(parse_qs(url.query).get("token", []))

    page.on("request", media)
    page.goto(stage.link(ticket_id, code))
    # The code left the address bar; the stream is not there yet, and the page waits.
    expect(_message(page)).to_contain_text("has not started yet", timeout=20_000)
    assert "code" not in page.url and page.url.endswith(f"/watch/{ticket_id}")
    stage.stream()
    _playing(page)
    first = _plays(page)
    # The tier is SD: the master playlist names HD too, but it is neither offered nor loaded.
    options = page.locator("#watch-quality option").all_inner_texts()
    assert options == ["Automatic", "SD"]
    # Subtitles: the rendition subs-en, authorized like the video, shown as cues.
    page.select_option("#watch-subtitles", label="English")
    _until(
        page,
        "Array.from(document.getElementById('video').textTracks)"
        ".some(t => t.mode === 'showing' && t.cues && t.cues.length > 0)",
    )
    assert_accessible(page)
    # Two renewals while playing; the player then asks with the new tokens.
    deadline = time.monotonic() + 3 * TOKEN_TTL
    while heartbeats.count(200) < 2:
        assert time.monotonic() < deadline, f"the token was not renewed: {heartbeats}"
        page.wait_for_timeout(500)  # (Playwright delivers events only while it is called)
    renewed_at = _plays(page, beyond=first + 20, timeout=30)
    tokens_seen = len(set(media_tokens))
    _plays(page, beyond=renewed_at, timeout=10)
    assert tokens_seen >= 3 and len(set(media_tokens)) >= 3, "segments kept the first token"
    # The laptop slept past the token's expiry: the next request is a 401, the page
    # renews (here by redeeming again) and hls.js retries with the new token: it plays on.
    assert 401 not in media_statuses
    clock.advance(seconds=TOKEN_TTL + settings.viewing_clock_skew_seconds + 5)
    deadline = time.monotonic() + 20
    while 401 not in media_statuses:
        assert time.monotonic() < deadline, "no request met the expired token"
        page.wait_for_timeout(200)
    _plays(page, beyond=_time(page) + 3, timeout=20)
    expect(_message(page)).to_have_text("Playing.")
    assert 401 in heartbeats  # the expired token's heartbeat: then redeemed again
    assert all(f"/{stage.shop.event_id}/hd/" not in path for path in media_paths)
    assert any("/subs-en/" in path for path in media_paths)
    assert all(path.startswith(f"/live/{stage.shop.event_id}/") for path in media_paths)
    _cors_answers_the_pages_alone(stage)
    # The admin refunds the order: within five seconds the page says so and stops.
    ok(stage.shop.api.post(f"/v1/orders/{order_id}/refunds", headers=stage.shop.staff, json={}),
       202)  # fmt: skip
    expect(_message(page)).to_contain_text("no longer gives access", timeout=5_000)
    assert _stopped(page)
    expect(page.locator("#player")).to_be_hidden()
    assert_accessible(page)
    # nginx logged the paths, never a token.
    logs = stage.nginx.access_log
    assert f"/live/{stage.shop.event_id}/sd/" in logs
    assert not any(token in logs for token in set(media_tokens))


def test_a_second_device(
    stage: Stage, new_page: Callable[..., Page], assert_accessible: Callable[..., None]
) -> None:
    stage.stream()
    # One device, refuse: the second browser is told, and the first keeps playing.
    _, ticket_id, code = stage.shop.ticket("one")
    first = new_page()
    first.goto(stage.link(ticket_id, code))
    _playing(first)
    _plays(first)
    second = new_page()
    second.goto(stage.link(ticket_id, code))
    expect(_message(second)).to_contain_text("already playing on as many devices", timeout=20_000)
    expect(second.get_by_role("button", name="Try again")).to_be_visible()
    assert_accessible(second)
    _plays(first)
    first.close()
    second.close()
    # One device, the newest wins: the second takes over, the first says so and can
    # take it back.
    _, ticket_id, code = stage.shop.ticket("swap")
    first, second = new_page(), new_page()
    first.goto(stage.link(ticket_id, code))
    _playing(first)
    second.goto(stage.link(ticket_id, code))
    _playing(second)
    _plays(second)
    expect(_message(first)).to_contain_text("playing on another device", timeout=15_000)
    assert _stopped(first)
    assert_accessible(first)
    first.get_by_role("button", name="Continue here").click()
    _playing(first)
    _plays(first)
    expect(_message(second)).to_contain_text("playing on another device", timeout=15_000)


def test_the_watch_page_in_dutch_before_doors_open(
    media_stack: None, site: str, worker: WorkerProcess, localstripe: str,
    new_page: Callable[..., Page], assert_accessible: Callable[..., None],
) -> None:  # fmt: skip
    with httpx.Client(base_url=site, timeout=30) as api:
        starts = datetime.now(UTC) + timedelta(days=2, hours=3)
        shop = _shop(api, localstripe, "https://media.example.org/live", starts)
        _, ticket_id, code = shop.ticket("sd")
        page = new_page(locale="nl")
        page.goto(f"{site}/watch/{ticket_id}#code={code}")
        expect(page.locator("html")).to_have_attribute("lang", "nl")
        expect(page.locator("h1")).to_have_text("Test Pattern Live")
        expect(_message(page)).to_contain_text("zodra de deuren opengaan")
        countdown = page.locator("#watch-countdown")
        expect(countdown).to_contain_text("Begint over 2 dagen")
        before = countdown.inner_text()
        expect(countdown).not_to_have_text(before, timeout=3_000)  # it counts down
        expect(page.locator("#player")).to_be_hidden()
        assert_accessible(page)
