"""The watch page of a recording access (/watch/recordings/{access_id}): the code handed
over once and kept in a cookie of that page; looking never starts a rental, pressing
Start does; the page tells how long a rental still plays, and when it is over."""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.recordings.models import OfferKind
from tests.factories import make_venue, ok
from tests.recordings.access_helpers import Grant, access_row, grant
from tests.recordings.helpers import published_recording

JSON = {"Accept": "application/json"}


def _page(client: TestClient, access_id: str) -> str:
    page = client.get(f"/watch/recordings/{access_id}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    return page.text


def _open(client: TestClient, access: Grant) -> dict[str, str]:
    found = re.search(r'data-csrf="([^"]+)"', _page(client, access.access_id))
    assert found is not None
    headers = {**JSON, "X-CSRF-Token": found[1]}
    handed = client.post(f"/watch/recordings/{access.access_id}/access",
                         json={"code": access.code}, headers=headers)  # fmt: skip
    assert handed.status_code == 204, handed.text
    cookie = handed.headers["set-cookie"]
    assert cookie.startswith(f"watch_code={access.code};") and "HttpOnly" in cookie
    assert f"Path=/watch/recordings/{access.access_id}" in cookie
    return headers


def _session(client: TestClient, access: Grant, headers: dict[str, str]) -> Any:
    return client.post(f"/watch/recordings/{access.access_id}/session",
                       json={"device_id": "tv"}, headers=headers)  # fmt: skip


def test_a_rental_starts_when_the_viewer_presses_start_and_shows_its_time_left(
    client: TestClient, clock: FixedClock, database: Database
) -> None:
    venue = make_venue(client)
    recording = published_recording(client, venue)
    rental = grant(database, recording["id"], OfferKind.rental, clock.now())
    assert 'data-phase="no_code"' in _page(client, rental.access_id)
    headers = _open(client, rental)
    page = _page(client, rental.access_id)
    assert 'data-phase="ready"' in page and recording["title"] in page
    assert "once started it plays for 48 hours." in page
    assert "Thursday, December 31, 2026" in page  # start by (the venue's time zone)
    assert rental.code not in page
    assert access_row(database, rental.access_id).started_at is None  # looking is not watching

    started = _session(client, rental, headers)
    assert started.status_code == 201, started.text
    body = started.json()
    base = f"https://origin.example.org/vod/{recording['id']}"
    assert body["playlist"] == f"{base}/index.m3u8"
    assert body["renditions"] == {"sd": f"{base}/sd/index.m3u8", "hd": f"{base}/hd/index.m3u8"}
    assert access_row(database, rental.access_id).started_at == clock.now()

    clock.advance(minutes=4)
    renewed = client.post(f"/watch/recordings/{rental.access_id}/heartbeat",
                          headers={"X-Viewing-Token": body["token"]})  # fmt: skip
    assert renewed.status_code == 200, renewed.text
    clock.advance(minutes=55)
    page = _page(client, rental.access_id)
    assert 'data-phase="open"' in page and "(47 hours left)" in page
    assert "Thursday, December 3, 2026" in page  # plays until

    clock.advance(hours=48)
    assert 'data-phase="over"' in _page(client, rental.access_id)
    over = client.post(f"/watch/recordings/{rental.access_id}/heartbeat",
                       headers={"X-Viewing-Token": renewed.json()["token"]})  # fmt: skip
    assert over.status_code == 401  # its token ran out with the window
    again = _session(client, rental, headers)
    assert again.status_code == 410 and again.json()["error"]["code"] == "rental_over"


def test_the_page_knows_only_its_own_access(
    client: TestClient, clock: FixedClock, database: Database
) -> None:
    venue = make_venue(client)
    recording = published_recording(client, venue)
    mine = grant(database, recording["id"], OfferKind.purchase, clock.now())
    theirs = grant(database, recording["id"], OfferKind.purchase, clock.now())
    headers = _open(client, mine)
    page = _page(client, mine.access_id)
    assert 'data-phase="open"' in page and "hours left" not in page
    wrong = client.post(f"/watch/recordings/{theirs.access_id}/access",
                        json={"code": mine.code}, headers=headers)  # fmt: skip
    assert wrong.status_code == 404 and "set-cookie" not in wrong.headers
    assert 'data-phase="no_code"' in _page(client, theirs.access_id)
    token = ok(_session(client, mine, headers), 201)["token"]
    # A token of one access renews nothing on another's page.
    other = client.post(f"/watch/recordings/{theirs.access_id}/heartbeat",
                        headers={"X-Viewing-Token": token})  # fmt: skip
    assert other.status_code == 404
    ended = client.post(f"/watch/recordings/{mine.access_id}/end",
                        headers={"X-Viewing-Token": token})  # fmt: skip
    assert ended.status_code == 204
