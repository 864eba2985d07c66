"""Watching a recording: a rental's window opens at its first redemption, in PostgreSQL
and once, its tokens never outlive it, and losing Redis neither restarts nor ends it;
a purchase plays for good; /vod/{recording}/{quality}/… is authorized for the access's
own recording in the recording's qualities only; device limits, withdrawal and
revocation refuse as they say."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import text
from starlette.testclient import TestClient

from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.recordings import window
from streamsvc.recordings.access import AccessStatus
from streamsvc.recordings.models import OfferKind
from tests.factories import VenueHandle, make_venue, ok
from tests.recordings.access_helpers import access_row, grant
from tests.recordings.helpers import published_recording

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # the clock fixture's start


def redeem(client: TestClient, code: str, device: str = "tv") -> Any:
    return client.post(f"/v1/recordings/access/{code}/sessions", json={"device_id": device})


def authorize(client: TestClient, token: str, uri: str) -> Any:
    return client.get("/v1/viewing/authorize",
                      headers={"X-Original-URI": uri, "Authorization": f"Bearer {token}"})  # fmt: skip


def heartbeat(client: TestClient, token: str) -> Any:
    return client.post("/v1/viewing/heartbeat", headers={"X-Viewing-Token": token})


def keep_watching(client: TestClient, clock: FixedClock, token: str, minutes: int) -> Any:
    """What the player does while it plays: a heartbeat every few minutes."""
    renewed: Any = None
    for step in range(0, minutes, 4):
        clock.advance(minutes=min(4, minutes - step))
        renewed = ok(heartbeat(client, token))
        token = renewed["token"]
    return renewed


def refused(answer: Any, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code, answer.text


def _archive(client: TestClient, **over: Any) -> tuple[VenueHandle, dict[str, Any]]:
    venue = make_venue(client)
    return venue, published_recording(client, venue, **over)


def test_a_rental_plays_its_own_recording_for_its_48_hours_then_stops(
    client: TestClient, clock: FixedClock, database: Database
) -> None:
    venue, recording = _archive(client)
    other = published_recording(client, venue, title="Another night")
    rid = recording["id"]
    rental = grant(database, rid, OfferKind.rental, clock.now())
    assert access_row(database, rental.access_id).started_at is None

    started = ok(redeem(client, rental.code), 201)
    assert started["playback"] == {
        "url": f"https://origin.example.org/vod/{rid}/hd/index.m3u8", "qualities": ["sd", "hd"],
    }  # fmt: skip
    assert started["expires_at"] == "2026-12-01T12:05:00Z"  # the token's 300 s
    row = access_row(database, rental.access_id)
    assert (row.started_at, row.ends_at) == (T0, datetime(2026, 12, 3, 12, 0, tzinfo=UTC))

    token = started["token"]
    for uri in (f"/vod/{rid}/hd/index.m3u8", f"/vod/{rid}/sd/seg_00042.ts",
                f"/vod/{rid}/index.m3u8", f"/vod/{rid}/subs-nl/index.m3u8"):  # fmt: skip
        assert authorize(client, token, uri).status_code == 204, uri
    refused(authorize(client, token, f"/vod/{other['id']}/hd/index.m3u8"), 403, "wrong_recording")
    refused(authorize(client, token, f"/vod/{rid}/uhd/index.m3u8"), 403, "quality_not_available")
    refused(authorize(client, token, f"/vod/{rid}/../{other['id']}/sd/x.ts"), 403,
            "wrong_recording")  # fmt: skip
    # A recording is served under /vod/ only, never taken for a live event's stream.
    refused(authorize(client, token, f"/live/{rid}/hd/index.m3u8"), 403, "not_a_stream_uri")

    # The next evening the viewer comes back (the same device keeps its session).
    clock.advance(hours=46, minutes=58)
    token = ok(redeem(client, rental.code), 201)["token"]
    clock.advance(minutes=2)  # 47 hours in
    renewed = ok(heartbeat(client, token))
    assert renewed["expires_at"] == "2026-12-03T11:05:00Z"
    assert authorize(client, renewed["token"], f"/vod/{rid}/hd/seg_1.ts").status_code == 204
    # Renewed just before the end, the token runs to the window's end and no further.
    last = keep_watching(client, clock, renewed["token"], minutes=58)
    assert last["expires_at"] == "2026-12-03T12:00:00Z"

    clock.advance(minutes=2)  # 48 hours after the first play
    refused(heartbeat(client, last["token"]), 410, "rental_over")
    refused(redeem(client, rental.code, "phone"), 410, "rental_over")
    clock.advance(minutes=1)  # past the clock-skew leeway (30 s): the token is dead
    refused(authorize(client, last["token"], f"/vod/{rid}/hd/seg_2.ts"), 401, "invalid_token")
    assert access_row(database, rental.access_id).started_at == T0


def test_a_rental_not_started_within_its_30_days_is_refused(
    client: TestClient, clock: FixedClock, database: Database
) -> None:
    _, recording = _archive(client)
    rental = grant(database, recording["id"], OfferKind.rental, clock.now())
    clock.advance(days=30)
    answer = redeem(client, rental.code)
    refused(answer, 410, "rental_expired")
    assert answer.json()["error"]["start_by"] == "2026-12-31T12:00:00+00:00"
    row = access_row(database, rental.access_id)
    assert row.started_at is None and row.ends_at is None


def test_a_purchase_plays_a_year_later(
    client: TestClient, clock: FixedClock, database: Database
) -> None:
    _, recording = _archive(client)
    bought = grant(database, recording["id"], OfferKind.purchase, clock.now())
    clock.advance(days=365)
    started = ok(redeem(client, bought.code), 201)
    assert started["expires_at"] == "2027-12-01T12:05:00Z"
    assert authorize(client, started["token"],
                     f"/vod/{recording['id']}/hd/index.m3u8").status_code == 204  # fmt: skip
    clock.advance(minutes=3)
    assert ok(heartbeat(client, started["token"]))["expires_at"] == "2027-12-01T12:08:00Z"
    assert access_row(database, bought.access_id).started_at is None  # no window


def test_losing_redis_neither_restarts_nor_ends_the_window(
    client: TestClient, clock: FixedClock, database: Database, redis_client: redis.Redis
) -> None:
    _, recording = _archive(client)
    rental = grant(database, recording["id"], OfferKind.rental, clock.now())
    ok(redeem(client, rental.code), 201)
    clock.advance(hours=10)
    first = ok(redeem(client, rental.code), 201)  # back after a pause
    redis_client.flushdb()
    # The session is gone (the player redeems again); the window is not.
    refused(heartbeat(client, first["token"]), 401, "session_unknown")
    again = ok(redeem(client, rental.code), 201)
    assert access_row(database, rental.access_id).started_at == T0
    clock.advance(hours=37, minutes=56)
    again = ok(redeem(client, rental.code), 201)
    assert again["expires_at"] == "2026-12-03T12:00:00Z"  # 4 minutes left, not 5
    clock.advance(minutes=4)
    redis_client.flushdb()
    refused(redeem(client, rental.code), 410, "rental_over")
    assert access_row(database, rental.access_id).started_at == T0


def test_concurrent_first_redemptions_open_one_window(
    client: TestClient, clock: FixedClock, database: Database
) -> None:
    _, recording = _archive(client)
    rental = grant(database, recording["id"], OfferKind.rental, clock.now())
    later: dict[str, window.Playable] = {}

    def second() -> None:
        with database.unit_of_work() as uow:
            later["b"] = window.redeem(uow.session, rental.code, T0 + timedelta(minutes=5))

    with database.unit_of_work() as uow:
        first = window.redeem(uow.session, rental.code, T0)  # holds the row until commit
        racer = threading.Thread(target=second)
        racer.start()
        _until_one_waits_for_a_lock(database)
    racer.join(10)
    assert first.started_at == later["b"].started_at == T0
    assert later["b"].ends_at == T0 + timedelta(hours=48)


def _until_one_waits_for_a_lock(database: Database) -> None:
    """Until a redemption waits for the row lock of another's UPDATE (polled, no timing)."""
    deadline = time.monotonic() + 10
    with database.engine.connect() as connection:
        while True:
            waiting = connection.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE 'UPDATE recording_access%'"
            )).scalar()  # fmt: skip
            connection.rollback()  # the statistics are a snapshot per transaction
            if waiting:
                return
            assert time.monotonic() < deadline, "the second redemption never met the lock"
            time.sleep(0.01)


def test_an_access_plays_on_two_devices_at_once(
    client: TestClient, clock: FixedClock, database: Database
) -> None:
    _, recording = _archive(client)
    bought = grant(database, recording["id"], OfferKind.purchase, clock.now())
    tv = ok(redeem(client, bought.code, "tv"), 201)
    ok(redeem(client, bought.code, "phone"), 201)
    answer = redeem(client, bought.code, "laptop")
    refused(answer, 403, "device_limit")
    assert answer.json()["error"]["max_devices"] == 2
    # The same device again keeps its slot; one that stops frees it.
    assert ok(redeem(client, bought.code, "tv"), 201)["session_id"] == tv["session_id"]
    ended = client.delete(f"/v1/viewing/sessions/{tv['session_id']}",
                          headers={"X-Viewing-Token": tv["token"]})  # fmt: skip
    assert ended.status_code == 204
    ok(redeem(client, bought.code, "laptop"), 201)


def test_withdrawal_stops_access_only_where_it_does_not_continue(
    client: TestClient, clock: FixedClock, database: Database
) -> None:
    venue, stops = _archive(client, access_continues_after_withdrawal=False)
    keeps = published_recording(client, venue, title="Kept")
    stopping = grant(database, stops["id"], OfferKind.purchase, clock.now())
    keeping = grant(database, keeps["id"], OfferKind.purchase, clock.now())
    playing = ok(redeem(client, stopping.code), 201)
    for recording in (stops, keeps):
        ok(client.post(f"/v1/recordings/{recording['id']}/withdraw", headers=venue.headers))
    refused(redeem(client, stopping.code, "phone"), 403, "recording_withdrawn")
    refused(heartbeat(client, playing["token"]), 403, "recording_withdrawn")
    kept = ok(redeem(client, keeping.code), 201)
    assert authorize(client, kept["token"], f"/vod/{keeps['id']}/hd/a.ts").status_code == 204


def test_revoked_and_suspended_accesses_do_not_play(
    client: TestClient, clock: FixedClock, database: Database
) -> None:
    _, recording = _archive(client)
    revoked = grant(database, recording["id"], OfferKind.purchase, clock.now(),
                    AccessStatus.revoked)  # fmt: skip
    held = grant(database, recording["id"], OfferKind.rental, clock.now(), AccessStatus.suspended)
    refused(redeem(client, revoked.code), 403, "access_revoked")
    refused(redeem(client, held.code), 403, "access_suspended")
    assert access_row(database, held.access_id).started_at is None
    assert redeem(client, "no-such-code").status_code == 404


def test_a_recording_token_is_not_an_event_token(
    client: TestClient, clock: FixedClock, database: Database
) -> None:
    _, recording = _archive(client)
    bought = grant(database, recording["id"], OfferKind.purchase, clock.now())
    token = ok(redeem(client, bought.code), 201)["token"]
    # No media server's live stream (SRS app/stream) plays a recording.
    answer = client.post("/v1/viewing/hooks/srs", json={
        "app": recording["id"], "stream": "hd", "param": f"?token={token}"})  # fmt: skip
    assert answer.json() == {"code": 403}
