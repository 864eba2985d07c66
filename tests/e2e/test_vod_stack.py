"""A recording rented and watched through a real nginx (auth_request on `location /vod/`)
in front of ffmpeg's HLS under /vod/{recording id}/: its own qualities play, a better
one, another recording's and a live path do not, and no token plays without one."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from streamsvc.db import Database
from streamsvc.recordings.models import OfferKind
from tests.e2e.media import Nginx, make_hls, media_stack_available
from tests.factories import PLATFORM, bearer
from tests.recordings.access_helpers import access_row, grant
from tests.recordings.helpers import RENTAL, recording_body

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def media_stack() -> None:
    if not media_stack_available():
        pytest.skip("nginx or ffmpeg could not be installed on this machine")


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def api(live_api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_api, timeout=30) as client:
        yield client


def _published(api: httpx.Client, staff: dict[str, str], venue_id: str, title: str) -> Any:
    recording = ok(api.post("/v1/recordings", headers=staff,
                            json=recording_body(title=title, playback="http://cdn.example")),
                   201)  # fmt: skip
    base = f"/v1/recordings/{recording['id']}"
    ok(api.put(f"{base}/offers", headers=staff, json={"rental": RENTAL}))
    rule = {"platform_fee_bps": 500, "costs": [],
            "shares": [{"party": {"type": "venue", "id": venue_id}, "bps": 10_000}]}  # fmt: skip
    ok(api.put(f"{base}/split-rule", headers=staff, json=rule))
    return ok(api.post(f"{base}/publish", headers=staff))


def test_a_rental_plays_through_nginx(media_stack: None, api: httpx.Client, live_api: str,
                                      database: Database, tmp_path: Path) -> None:  # fmt: skip
    venue = ok(api.post("/v1/venues", headers=PLATFORM, json={
        "name": "Archive House", "country": "NL", "currency": "EUR", "timezone": "UTC"}), 201)  # fmt: skip
    staff, venue_id = bearer(venue["api_key"]["key"]), venue["venue"]["id"]
    recording = _published(api, staff, venue_id, "Test pattern, recorded")
    other = _published(api, staff, venue_id, "Another test pattern")
    rental = grant(database, recording["id"], OfferKind.rental, datetime.now(UTC))
    started = ok(api.post(f"/v1/recordings/access/{rental.code}/sessions",
                          json={"device_id": "browser"}), 201)  # fmt: skip
    assert started["playback"]["url"] == f"http://cdn.example/vod/{recording['id']}/hd/index.m3u8"
    assert access_row(database, rental.access_id).started_at is not None
    token = {"Authorization": f"Bearer {started['token']}"}

    www = tmp_path / "www"
    make_hls(www, recording["id"], prefix="vod")
    shutil.copytree(www / "vod" / recording["id"] / "hd", www / "vod" / recording["id"] / "uhd")
    shutil.copytree(www / "vod" / recording["id"], www / "vod" / other["id"])
    nginx = Nginx(tmp_path, live_api)
    try:
        with httpx.Client(base_url=nginx.base_url, timeout=10) as cdn:
            own = f"/vod/{recording['id']}"
            playlist = cdn.get(f"{own}/hd/index.m3u8", headers=token)
            assert playlist.status_code == 200 and "#EXTM3U" in playlist.text
            segment = next(line for line in playlist.text.splitlines() if line.endswith(".ts"))
            media = cdn.get(f"{own}/hd/{segment}?token={started['token']}")
            assert media.status_code == 200 and len(media.content) > 1000
            assert cdn.get(f"{own}/index.m3u8", headers=token).status_code == 200
            assert cdn.get(f"{own}/sd/index.m3u8", headers=token).status_code == 200
            assert cdn.get(f"{own}/hd/index.m3u8").status_code == 401
            assert cdn.get(f"{own}/uhd/index.m3u8", headers=token).status_code == 403
            assert cdn.get(f"/vod/{other['id']}/hd/index.m3u8", headers=token).status_code == 403
            assert cdn.get(f"/live/{recording['id']}/hd/index.m3u8",
                           headers=token).status_code == 403  # fmt: skip
        assert started["token"] not in nginx.access_log
    finally:
        nginx.stop()
