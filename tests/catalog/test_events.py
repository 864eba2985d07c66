from __future__ import annotations

from datetime import timedelta

from starlette.testclient import TestClient

from streamsvc.kit.clock import FixedClock
from tests.factories import (
    make_event,
    make_performer,
    make_tier,
    make_venue,
    ok,
    published_event,
    put_split_rule,
)


def test_create_event_is_a_draft_in_the_venue_currency(
    client: TestClient, clock: FixedClock
) -> None:
    venue = make_venue(client)
    performer = make_performer(client, venue)
    event = make_event(client, venue, clock.now(), performer_ids=[performer["id"]])
    assert event["id"].startswith("evt_")
    assert event["status"] == "draft"
    assert event["currency"] == "EUR"
    assert event["performer_ids"] == [performer["id"]]
    assert ok(client.get(f"/v1/events/{event['id']}", headers=venue.headers)) == event


def test_event_fields_are_validated(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    response = client.post(
        "/v1/events",
        json={"title": "x" * 201, "starts_at": "2026-12-24T20:00:00", "ends_at": "tomorrow",
              "timezone": "Europe/Nowhere", "attendance_mode": "radio",
              "allowed_countries": ["NL", "ZZ"], "playback": "ftp://x", "currency": "eur",
              "doors_open_minutes": -1},
        headers=venue.headers,
    )  # fmt: skip
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {
        "title", "starts_at", "ends_at", "timezone", "attendance_mode", "allowed_countries[1]",
        "playback", "currency", "doors_open_minutes",
    }  # fmt: skip


def test_an_event_ends_after_it_starts(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    now = clock.now()
    response = client.post(
        "/v1/events",
        json={"title": "t", "starts_at": now.isoformat(), "ends_at": now.isoformat(),
              "timezone": "UTC", "attendance_mode": "online"},
        headers=venue.headers,
    )  # fmt: skip
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"ends_at": "must be after starts_at"}
    event = make_event(client, venue, now)
    patched = client.patch(
        f"/v1/events/{event['id']}", json={"ends_at": event["starts_at"]}, headers=venue.headers
    )
    assert patched.status_code == 422
    # Nothing was stored by the failed change.
    assert ok(client.get(f"/v1/events/{event['id']}", headers=venue.headers)) == event


def test_performers_of_another_venue_are_refused(client: TestClient, clock: FixedClock) -> None:
    ours, theirs = make_venue(client), make_venue(client, "Other House")
    foreign = make_performer(client, theirs)
    response = client.post(
        "/v1/events",
        json={"title": "t", "starts_at": clock.now().isoformat(),
              "ends_at": (clock.now() + timedelta(hours=1)).isoformat(), "timezone": "UTC",
              "attendance_mode": "online", "performer_ids": [foreign["id"]]},
        headers=ours.headers,
    )  # fmt: skip
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"performer_ids[0]": "no such performer"}


def test_publish_reports_everything_missing_at_once(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    event = make_event(client, venue, clock.now(), playback=None)
    response = client.post(f"/v1/events/{event['id']}/publish", headers=venue.headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "event_incomplete"
    assert set(error["fields"]) == {"playback", "tiers", "split_rule"}


def test_publish_checks_tier_sales_windows(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    event = make_event(client, venue, clock.now())
    ends = event["ends_at"]
    tier = make_tier(client, venue, event["id"])
    put_split_rule(client, venue, event["id"])
    # Move the event earlier than the tier's sales end.
    ok(client.patch(f"/v1/tiers/{tier['id']}", json={"sales_end": ends}, headers=venue.headers))
    earlier = {
        "starts_at": (clock.now() + timedelta(days=1)).isoformat(),
        "ends_at": (clock.now() + timedelta(days=1, hours=2)).isoformat(),
    }
    ok(client.patch(f"/v1/events/{event['id']}", json=earlier, headers=venue.headers))
    response = client.post(f"/v1/events/{event['id']}/publish", headers=venue.headers)
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {
        f"tiers[{tier['id']}].sales_end": "sales must end by the end of the event"
    }


def test_lifecycle_transitions(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    event = published_event(client, venue, clock.now())
    assert event["status"] == "on_sale" and event["published_at"] is not None
    url = f"/v1/events/{event['id']}"
    again = client.post(f"{url}/publish", headers=venue.headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_transition"
    assert again.json()["error"]["current_status"] == "on_sale"
    skip = client.patch(url, json={"status": "ended"}, headers=venue.headers)
    assert skip.status_code == 409 and skip.json()["error"]["current_status"] == "on_sale"
    assert ok(client.patch(url, json={"status": "live"}, headers=venue.headers))["status"] == "live"
    assert (
        ok(client.patch(url, json={"status": "ended"}, headers=venue.headers))["status"] == "ended"
    )
    closed = client.patch(url, json={"title": "New title"}, headers=venue.headers)
    assert closed.status_code == 409
    assert closed.json()["error"] == {
        "code": "event_closed",
        "message": "The event is ended and can no longer be changed.",
        "current_status": "ended",
    }


def test_live_and_ended_follow_the_clock(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    event = published_event(client, venue, clock.now())
    url = f"/v1/events/{event['id']}"
    clock.advance(days=10)  # starts_at
    assert ok(client.get(url, headers=venue.headers))["status"] == "live"
    live = ok(client.get("/v1/events", params={"status": "live"}, headers=venue.headers))
    assert [e["id"] for e in live["data"]] == [event["id"]]
    clock.advance(hours=3)  # ends_at
    assert ok(client.get(url, headers=venue.headers))["status"] == "ended"
    assert (
        ok(client.get("/v1/events", params={"status": "live"}, headers=venue.headers))["data"] == []
    )


def test_online_event_cannot_keep_in_venue_tiers(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    event = make_event(client, venue, clock.now())
    make_tier(client, venue, event["id"], capacity=300,
              access={"quality": "sd", "in_venue": True})  # fmt: skip
    response = client.patch(
        f"/v1/events/{event['id']}", json={"attendance_mode": "online"}, headers=venue.headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "in_venue_tiers_exist"


def test_events_list_is_paginated(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    created = [make_event(client, venue, clock.now(), title=f"Night {i}")["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(client.get("/v1/events", params=params, headers=venue.headers))
        seen += [e["id"] for e in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(created) and len(seen) == 5
    bad = client.get("/v1/events", params={"cursor": "not-a-cursor"}, headers=venue.headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"] == {"query.cursor": "invalid cursor"}
