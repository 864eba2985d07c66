"""The done-when scenario of the catalogue, through the API alone, and its open data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import icalendar
from starlette.testclient import TestClient

from streamsvc.kit.clock import FixedClock
from tests.factories import make_event, make_performer, make_venue, ok, published_event

SCHEMA = "https://schema.org/"


def _opera(client: TestClient, clock: FixedClock) -> tuple[Any, dict[str, Any]]:
    """A hybrid opera: 300 seats, an HD stream, pay-what-you-want, three performers."""
    venue = make_venue(client)
    singers = [make_performer(client, venue, name)["id"]
               for name in ("Anna Netrebko", "Juan Diego Florez", "Ludovic Tezier")]  # fmt: skip
    event = make_event(client, venue, clock.now(), performer_ids=singers)
    url = f"/v1/events/{event['id']}"
    h = venue.headers
    tiers = {
        "seat": ok(client.post(f"{url}/tiers", headers=h, json={
            "name": "Stalls seat", "price_amount": 8500, "capacity": 300, "vat_rate_bps": 900,
            "access": {"quality": "hd", "in_venue": True, "rewatch_hours": 48}}), 201),
        "hd": ok(client.post(f"{url}/tiers", headers=h, json={
            "name": "Stream HD + backstage", "price_amount": 1950, "vat_rate_bps": 2100,
            "access": {"quality": "hd", "extras": ["backstage_camera"], "max_devices": 2,
                       "on_device_limit": "drop_oldest", "rewatch_hours": 48}}), 201),
        "pwyw": ok(client.post(f"{url}/tiers", headers=h, json={
            "name": "Supporter", "vat_rate_bps": 2100,
            "pay_what_you_want": {"min_amount": 500, "suggested_amount": 2500},
            "access": {"quality": "sd"}}), 201),
    }  # fmt: skip
    shares = [{"party": {"type": "venue", "id": venue.id}, "bps": 7000}] + [
        {"party": {"type": "performer", "id": s}, "bps": 1000} for s in singers
    ]
    ok(client.put(f"{url}/split-rule", headers=h, json={
        "platform_fee_bps": 500,
        "costs": [{"label": "stream production", "amount": 250_000, "currency": "EUR"}],
        "shares": shares}))  # fmt: skip
    published = ok(client.post(f"{url}/publish", headers=h))
    assert published["status"] == "on_sale"
    return published, tiers


def test_a_published_hybrid_event_is_listed(client: TestClient, clock: FixedClock) -> None:
    event, _tiers = _opera(client, clock)
    listing = ok(client.get("/v1/public/events"))  # no key needed
    [item] = listing["data"]
    assert item["id"] == event["id"] and item["status"] == "on_sale"
    assert [p["name"] for p in item["performers"]] == [
        "Anna Netrebko", "Juan Diego Florez", "Ludovic Tezier"
    ]  # fmt: skip
    by_name = {t["name"]: t for t in item["tiers"]}
    assert by_name["Stalls seat"]["available"] == 300
    assert by_name["Stream HD + backstage"]["available"] is None
    assert all(t["on_sale_now"] for t in item["tiers"])
    # Nothing private leaks: no emails, no playback origin, no sales counts.
    text = str(listing)
    assert "@example.org" not in text and "origin.example.org" not in text
    assert "sold" not in item["tiers"][0] and "held" not in item["tiers"][0]
    assert ok(client.get(f"/v1/public/events/{event['id']}")) == item


def test_json_ld_is_a_schema_org_event(client: TestClient, clock: FixedClock) -> None:
    event, _ = _opera(client, clock)
    response = client.get(f"/v1/public/events/{event['id']}",
                          headers={"Accept": "application/ld+json"})  # fmt: skip
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    doc = response.json()
    assert doc["@context"] == "https://schema.org" and doc["@type"] == "Event"
    assert doc["eventAttendanceMode"] == SCHEMA + "MixedEventAttendanceMode"
    assert doc["eventStatus"] == SCHEMA + "EventScheduled"
    assert [loc["@type"] for loc in doc["location"]] == ["VirtualLocation", "Place"]
    assert doc["location"][1]["address"]["addressCountry"] == "NL"
    assert doc["organizer"] == {"@type": "Organization", "name": "De Nederlandse Opera"}
    assert len(doc["performer"]) == 3
    offers = {o["name"]: o for o in doc["offers"]}
    assert offers["Stalls seat"]["price"] == "85.00"
    assert offers["Stalls seat"]["priceCurrency"] == "EUR"
    assert offers["Stalls seat"]["availability"] == SCHEMA + "InStock"
    assert offers["Supporter"]["price"] == "5.00"
    assert offers["Supporter"]["priceSpecification"]["price"] == "25.00"
    for offer in doc["offers"]:
        assert offer["validFrom"] and offer["validThrough"] == doc["endDate"]


def test_online_event_json_ld(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    event = published_event(client, venue, clock.now(), attendance_mode="online")
    doc = client.get(f"/v1/public/events/{event['id']}",
                     headers={"Accept": "application/ld+json"}).json()  # fmt: skip
    assert doc["eventAttendanceMode"] == SCHEMA + "OnlineEventAttendanceMode"
    assert [loc["@type"] for loc in doc["location"]] == ["VirtualLocation"]


def test_ics_feed_reads_back(client: TestClient, clock: FixedClock) -> None:
    event, _ = _opera(client, clock)
    response = client.get("/v1/public/events.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(response.content)
    [entry] = cal.walk("VEVENT")
    assert str(entry["uid"]) == f"{event['id']}@streamsvc"
    assert str(entry["summary"]) == "La Traviata"
    assert entry.decoded("dtstart").isoformat() == event["starts_at"].replace("Z", "+00:00")
    assert entry.decoded("dtend") - entry.decoded("dtstart") == timedelta(hours=3)
    assert str(entry["status"]) == "CONFIRMED"


def test_drafts_are_not_public(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    draft = make_event(client, venue, clock.now())
    assert ok(client.get("/v1/public/events"))["data"] == []
    assert client.get(f"/v1/public/events/{draft['id']}").status_code == 404
    assert b"VEVENT" not in client.get("/v1/public/events.ics").content


def test_ended_events_leave_the_list_but_keep_their_page(
    client: TestClient, clock: FixedClock
) -> None:
    venue = make_venue(client)
    event = published_event(client, venue, clock.now())
    clock.advance(days=10, hours=1)
    assert [e["status"] for e in ok(client.get("/v1/public/events"))["data"]] == ["live"]
    clock.advance(hours=3)
    assert ok(client.get("/v1/public/events"))["data"] == []
    page = ok(client.get(f"/v1/public/events/{event['id']}"))
    assert page["status"] == "ended"
    assert not any(t["on_sale_now"] for t in page["tiers"])


def test_public_list_spans_venues_in_start_order(client: TestClient, clock: FixedClock) -> None:
    a, b = make_venue(client), make_venue(client, "Het Concertgebouw")
    later = published_event(client, a, clock.now() + timedelta(days=5))
    sooner = published_event(client, b, clock.now())
    first = ok(client.get("/v1/public/events", params={"limit": 1}))
    assert [e["id"] for e in first["data"]] == [sooner["id"]]
    second = ok(client.get("/v1/public/events", params={"cursor": first["next_cursor"]}))
    assert [e["id"] for e in second["data"]] == [later["id"]]
    assert second["next_cursor"] is None
