"""The console's viewing figures: viewers watching now on the overview, an event's
audience report (from Redis as it goes, from PostgreSQL once copied), and the tickets'
viewing sessions on the order detail. Sessions are made over HTTP, as players do, with
the injected clock moved between them (no sleeping)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
import redis
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.orders.console_service import TicketSessions
from streamsvc.viewing.store import ViewingStore
from tests.console.helpers import Shop, console_shop, paid_order, tickets
from tests.staff.helpers import csrf, log_in, post
from workers.base import WorkerResources
from workers.celery_app import create_celery

pytestmark = pytest.mark.stripe

if TYPE_CHECKING:  # mypy checks that viewing's store is what the order page asks for

    def _order_page_reads(store: ViewingStore) -> TicketSessions:
        return store


def _shop(client: TestClient, queue: Any, database: Database, settings: Settings,
          clock: FixedClock, **event: Any) -> Shop:  # fmt: skip
    """An event whose doors are open now: it starts in 20 minutes and lasts an hour."""
    starts = clock.now() + timedelta(minutes=20)
    return console_shop(client, queue, database, settings, clock,
                        starts_at=starts.isoformat(),
                        ends_at=(starts + timedelta(hours=1)).isoformat(), **event)  # fmt: skip


def _codes(client: TestClient, database: Database, clock: FixedClock, shop: Shop, tier: str,
           quantity: int) -> tuple[str, list[dict[str, Any]]]:  # fmt: skip
    order = paid_order(client, database, clock, shop.event["id"], tier, quantity=quantity)
    return order["id"], tickets(client, shop, order["id"])


def _redeem(
    client: TestClient, code: str, device: str, country: str | None = "NL"
) -> dict[str, Any]:
    answer = client.post(f"/v1/tickets/{code}/sessions", json={"device_id": device},
                         headers={"CF-IPCountry": country} if country else {})  # fmt: skip
    assert answer.status_code == 201, answer.text
    started: dict[str, Any] = answer.json()
    return started


def _heartbeat(client: TestClient, session: dict[str, Any], status: int = 200) -> None:
    answer = client.post("/v1/viewing/heartbeat", headers={"X-Viewing-Token": session["token"]})
    assert answer.status_code == status, answer.text
    if status == 200:
        session["token"] = answer.json()["token"]


def _end(client: TestClient, session: dict[str, Any]) -> None:
    answer = client.delete(f"/v1/viewing/sessions/{session['session_id']}",
                           headers={"X-Viewing-Token": session["token"]})  # fmt: skip
    assert answer.status_code == 204, answer.text


def _watching_now(client: TestClient, event_id: str) -> str:
    page = client.get("/console")
    assert page.status_code == 200, page.text
    row = re.search(rf'href="/console/events/{event_id}">.*?<td class="watching-now">([^<]*)<',
                    page.text, re.S)  # fmt: skip
    assert row, page.text
    return row.group(1)


def test_viewers_watching_now_follow_sessions_that_start_end_lapse_and_are_revoked(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = _shop(client, queue, database, settings, clock)
    event_id = shop.event["id"]
    assert _watching_now(client, event_id) == "0"
    order_id, bought = _codes(client, database, clock, shop, shop.stream_tier, 3)
    first, lapsing, last = (_redeem(client, t["code"], f"tv-{i}") for i, t in enumerate(bought))
    assert _watching_now(client, event_id) == "3"

    _end(client, first)
    assert _watching_now(client, event_id) == "2"  # at once

    # A player that stops sending heartbeats counts until its token could no longer play:
    # the token's lifetime and the clock-skew leeway (330 s here) after its last one.
    window = settings.viewing_token_ttl_seconds + settings.viewing_clock_skew_seconds
    clock.advance(seconds=200)
    _heartbeat(client, last)
    clock.advance(seconds=window - 200)
    assert _watching_now(client, event_id) == "2"  # exactly at the edge: still counted
    clock.advance(seconds=1)
    assert _watching_now(client, event_id) == "1"

    # A revoked ticket's session leaves the count at its next heartbeat, refused.
    revoke = post(client, f"/console/orders/{order_id}/tickets/{bought[2]['id']}/revoke", {},
                  token=csrf(client, f"/console/orders/{order_id}"))  # fmt: skip
    assert revoke.status_code == 303, revoke.text
    _heartbeat(client, last, status=403)
    assert _watching_now(client, event_id) == "0"
    assert lapsing["session_id"] != last["session_id"]


def _figures(page: str) -> dict[str, Any]:
    def table(name: str) -> dict[str, int]:
        body = re.search(rf'<table id="{name}".*?<tbody>(.*?)</tbody>', page, re.S)
        assert body, page
        rows = re.findall(r'<th scope="row">([^<]+)</th><td>(\d+)</td>', body.group(1))
        return {label: int(n) for label, n in rows}

    stream = re.search(r'<table id="audience-stream".*?<tbody>(.*?)</tbody>', page, re.S)
    assert stream, page
    bars = re.findall(r'<time datetime="[^"]*T([0-9:]{5}):00\+00:00">[^<]*</time></th><td>(\d+)</td>',
                      stream.group(1))  # fmt: skip
    peak = re.search(r'<dd id="audience-peak">(\d+)', page)
    minutes = re.search(r'<dd id="audience-minutes">(\d+)</dd>', page)
    viewers = re.search(r'<dd id="audience-viewers">(\d+)</dd>', page)
    assert peak and minutes and viewers, page
    return {"peak": int(peak.group(1)), "minutes": int(minutes.group(1)),
            "viewers": int(viewers.group(1)), "tiers": table("audience-tiers"),
            "countries": table("audience-countries"),
            "stream": {start: int(n) for start, n in bars}}  # fmt: skip


def test_the_audience_report_gives_exact_figures_and_outlives_redis_once_copied(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    redis_client: redis.Redis,
) -> None:  # fmt: skip
    shop = _shop(client, queue, database, settings, clock)
    event_id, t0 = shop.event["id"], clock.now()  # 12:00:00 UTC, a minute's start
    _, [a_ticket, b_ticket] = _codes(client, database, clock, shop, shop.stream_tier, 2)
    _, [c_ticket] = _codes(client, database, clock, shop, shop.seat_tier, 1)

    def at(minutes: int, seconds: int) -> None:
        clock.at = t0 + timedelta(minutes=minutes, seconds=seconds)

    # A plays 12:00:10-12:06:00 (350 s), B 12:01:30 until its last heartbeat at 12:04:00
    # (150 s; it then stops without a word), C 12:03:20-12:07:00 (220 s): 720 s in all.
    at(0, 10)
    a = _redeem(client, a_ticket["code"], "a-tv")
    at(1, 30)
    b = _redeem(client, b_ticket["code"], "b-phone", country="BE")
    at(2, 40)
    _heartbeat(client, a)
    at(3, 20)
    c = _redeem(client, c_ticket["code"], "c-laptop")
    at(4, 0)
    _heartbeat(client, b)
    at(5, 10)
    _heartbeat(client, a)
    at(5, 50)
    _heartbeat(client, c)
    at(6, 0)
    _end(client, a)
    at(7, 0)
    _end(client, c)
    # Per minute: 12:00 A; 12:01 A B; 12:02 A B; 12:03 A B C; 12:04 A C; 12:05 A C; 12:06 C.
    expected = {"peak": 3, "minutes": 12, "viewers": 3,
                "tiers": {"Stream HD + backstage camera": 2, "Stalls": 1},
                "countries": {"Netherlands": 2, "Belgium": 1}}  # fmt: skip

    live = _figures(client.get(f"/console/events/{event_id}/audience").text)
    assert {k: v for k, v in live.items() if k != "stream"} == expected
    # Over the stream, doors-open 11:50 to the end 13:20 UTC: 90 minutes, two a bar, each
    # as high as the busier of its two.
    assert len(live["stream"]) == 45
    assert [live["stream"][start] for start in ("11:58", "12:00", "12:02", "12:04", "12:06",
                                                "12:08")] == [0, 2, 3, 2, 1, 0]  # fmt: skip
    assert (
        '<time datetime="2026-12-01T12:03:00+00:00">'
        in client.get(f"/console/events/{event_id}/audience").text
    )  # the peak's minute

    # After the event, beat's task copies the figures; Redis may then forget them all.
    at(90, 0)
    app = create_celery(settings)
    app.loader.import_default_modules()
    app.streamsvc_resources = WorkerResources(settings, app, clock)
    try:
        assert app.tasks["viewing.copy_recent_audiences"].apply().get() == 1
        # Again, by id: seven minutes, two tiers and two countries, unchanged.
        assert app.tasks["viewing.copy_audience"].apply(args=[event_id]).get() == 11
    finally:
        app.streamsvc_resources.database.dispose()
    redis_client.flushdb()
    assert log_in(client, shop.admin.email).status_code == 303  # the idle session ended
    stored = _figures(client.get(f"/console/events/{event_id}/audience").text)
    assert stored == live


def test_the_order_detail_lists_each_tickets_live_sessions(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = _shop(client, queue, database, settings, clock, allowed_countries=[])  # everywhere
    order_id, [one, two] = _codes(client, database, clock, shop, shop.stream_tier, 2)
    nothing = client.get(f"/console/orders/{order_id}")
    assert "No ticket of this order is playing anywhere." in nothing.text
    tv = _redeem(client, one["code"], "living-room-tv", country="DE")
    clock.advance(seconds=30)
    phone = _redeem(client, one["code"], "kitchen-phone", country="FR")
    # Without a country from the CDN, the viewer counts in the buyer's country (NL).
    laptop = _redeem(client, two["code"], "attic-laptop", country=None)
    clock.advance(seconds=60)
    _heartbeat(client, tv)

    page = client.get(f"/console/orders/{order_id}").text
    for session, ticket, device in ((tv, one, "living-room-tv"), (phone, one, "kitchen-phone"),
                                    (laptop, two, "attic-laptop")):  # fmt: skip
        row = re.search(rf'<tr id="session-{session["session_id"]}">(.*?)</tr>', page, re.S)
        assert row, page
        assert ticket["id"] in row.group(1) and device in row.group(1)
    assert one["code"] not in page and two["code"] not in page  # codes stay secret

    _end(client, phone)
    assert phone["session_id"] not in client.get(f"/console/orders/{order_id}").text
    # A device idle for longer than it keeps its slot is not live any more.
    clock.advance(seconds=settings.viewing_session_idle_seconds - 59)
    page = client.get(f"/console/orders/{order_id}").text
    assert tv["session_id"] in page and laptop["session_id"] not in page

    # Each ticket counts once, in the country it first played from.
    audience = _figures(client.get(f"/console/events/{shop.event['id']}/audience").text)
    assert audience["countries"] == {"Germany": 1, "Netherlands": 1}
