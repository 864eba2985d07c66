"""The mapping of an event onto UiTdatabank's event model: pure, no database, no HTTP.

Each body is also checked by the stand-in's own reading of the Entry API (what the real
one refuses), so the mapping and the stand-in cannot agree on a mistake unseen."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from streamsvc.catalog.event_types import checked, known, options, taxonomy
from streamsvc.catalog.models import Event, Tier
from streamsvc.listings.uitdatabank.mapping import (
    ENTRY_API_AS_OF,
    Unlistable,
    cancelled_status,
    digest,
    euros,
    event_body,
    listed,
)
from streamsvc.venues.models import Venue
from tests.listings.uitdatabank_standin import event_problems, status_problems

PLACE = "5cf42d51-3a4f-46f0-a8af-1cf672be8c84"
ENTRY = "https://io-test.uitdatabank.be"
PAGE = "https://tickets.example.org/events/evt_1"


def _event(**over: object) -> Event:
    fields: dict[str, object] = {
        "id": "evt_1", "venue_id": "ven_1", "title": "La Traviata",
        "description": "Verdi, live from Antwerp.",
        # 19:30 UTC on 11 December is 20:30 in Brussels (winter time, +01:00).
        "starts_at": datetime(2026, 12, 11, 19, 30, tzinfo=UTC),
        "ends_at": datetime(2026, 12, 11, 22, 30, tzinfo=UTC),
        "timezone": "Europe/Brussels", "attendance_mode": "online", "currency": "EUR",
        "doors_open_minutes": 30, "replay_hours": 48, "allowed_countries": [],
        "status": "on_sale", "uitdatabank_type": "0.55.0.0.0",
        "created_at": datetime(2026, 12, 1, tzinfo=UTC), "updated_at": datetime(2026, 12, 1, tzinfo=UTC),
    }  # fmt: skip
    fields.update(over)
    return Event.model_validate(fields)


def _venue(place: str | None = None) -> Venue:
    return Venue(id="ven_1", name="Opera Vlaanderen", slug="opera", country="BE", currency="EUR",
                 timezone="Europe/Brussels", created_at=datetime(2026, 1, 1, tzinfo=UTC),
                 uitdatabank_place_id=place)  # fmt: skip


def _tier(name: str, amount: int, position: int, **over: object) -> Tier:
    fields: dict[str, object] = {
        "id": f"tie_{position}", "event_id": "evt_1", "venue_id": "ven_1", "name": name,
        "price_amount": amount, "vat_rate_bps": 2100, "quality": "hd", "extras": [],
        "in_venue": False, "rewatch_hours": 0, "max_devices": 1, "on_device_limit": "refuse",
        "position": position, "created_at": datetime(2026, 12, 1, tzinfo=UTC),
    }  # fmt: skip
    fields.update(over)
    return Tier.model_validate(fields)


def _body(event: Event, venue: Venue, tiers: list[Tier], language: str = "nl") -> dict[str, Any]:
    return event_body(listed(event, venue, tiers), event_url=PAGE, entry_url=ENTRY,
                      language=language)  # fmt: skip


def test_an_online_event_is_listed_online_at_our_event_page() -> None:
    tiers = [_tier("Stream HD", 1950, 0), _tier("Stream + backstage", 2500, 1)]
    body = _body(_event(), _venue(), tiers)
    assert event_problems(body) == []
    assert body == {
        "mainLanguage": "nl",
        "name": {"nl": "La Traviata"},
        "description": {"nl": "Verdi, live from Antwerp."},
        "terms": [{"id": "0.55.0.0.0", "domain": "eventtype"}],
        "calendarType": "single",
        "subEvent": [{"startDate": "2026-12-11T20:30:00+01:00",
                      "endDate": "2026-12-11T23:30:00+01:00"}],
        "attendanceMode": "online",
        "onlineUrl": PAGE,
        "priceInfo": [
            {"category": "base", "price": 19.5, "priceCurrency": "EUR",
             "name": {"nl": "Basistarief", "fr": "Tarif de base", "de": "Basisrate",
                      "en": "Base tariff"}},
            {"category": "tariff", "price": 25.0, "priceCurrency": "EUR",
             "name": {"nl": "Stream + backstage"}},
        ],
        "bookingInfo": {"url": PAGE, "urlLabel": {"nl": "Koop tickets", "fr": "Achetez des tickets",
                                                  "de": "Tickets kaufen", "en": "Buy tickets"}},
        "status": {"type": "Available"},
        "workflowStatus": "READY_FOR_VALIDATION",
    }  # fmt: skip
    assert "location" not in body  # UiTdatabank files an online event under its online place
    # The prices travel as JSON numbers that are exactly the euros.
    assert '"price":19.5' in json.dumps(body, separators=(",", ":"))


def test_a_hybrid_event_is_mixed_at_the_venues_place_in_summer_time() -> None:
    event = _event(attendance_mode="hybrid", uitdatabank_type="0.50.4.0.0",
                   starts_at=datetime(2027, 6, 5, 18, 0, tzinfo=UTC),
                   ends_at=datetime(2027, 6, 5, 20, 15, tzinfo=UTC), description="")  # fmt: skip
    tiers = [_tier("Zaal", 4500, 1, in_venue=True, capacity=100), _tier("Stream", 1500, 0)]
    body = _body(event, _venue(PLACE), tiers, language="fr")
    assert event_problems(body) == []
    assert body["attendanceMode"] == "mixed"
    assert body["location"] == {"@id": f"{ENTRY}/places/{PLACE}"}
    assert body["onlineUrl"] == PAGE
    assert body["subEvent"] == [{"startDate": "2027-06-05T20:00:00+02:00",
                                 "endDate": "2027-06-05T22:15:00+02:00"}]  # fmt: skip
    assert body["terms"] == [{"id": "0.50.4.0.0", "domain": "eventtype"}]
    # The base is the first tier in display order; names in the main language.
    assert [(p["category"], p["price"], p["name"].get("fr")) for p in body["priceInfo"]] == [
        ("base", 15.0, "Tarif de base"), ("tariff", 45.0, "Zaal"),
    ]  # fmt: skip
    assert body["mainLanguage"] == "fr" and body["name"] == {"fr": "La Traviata"}
    assert "description" not in body  # an empty text is left out, not sent empty


def test_prices_come_from_minor_units_exactly() -> None:
    assert [euros(a, "EUR") for a in (0, 1, 10, 1999, 123456789)] == [
        0.0, 0.01, 0.1, 19.99, 1234567.89
    ]  # fmt: skip
    assert json.dumps([euros(1, "EUR"), euros(1999, "EUR")]) == "[0.01, 19.99]"
    # Pay what you want: listed at the least it takes; equal names stay distinct.
    tiers = [_tier("Stream", 1500, 0), _tier("Stream", 900, 1, pwyw_min_amount=500),
             _tier("Basistarief", 700, 2)]  # fmt: skip
    prices = _body(_event(), _venue(), tiers)["priceInfo"]
    assert event_problems(_body(_event(), _venue(), tiers)) == []
    assert [(p["price"], p["name"]["nl"]) for p in prices] == [
        (15.0, "Basistarief"), (5.0, "Stream"), (7.0, "Basistarief (2)"),
    ]  # fmt: skip


def test_what_cannot_be_listed_says_why() -> None:
    tiers = [_tier("Stream", 1500, 0)]
    with pytest.raises(Unlistable, match="UiTdatabank place"):
        _body(_event(attendance_mode="hybrid"), _venue(None), tiers)
    with pytest.raises(Unlistable, match="EUR only"):
        _body(_event(currency="GBP"), _venue(), tiers)
    with pytest.raises(Unlistable, match="no tier"):
        _body(_event(), _venue(), [])
    with pytest.raises(Unlistable, match="event type"):
        _body(_event(uitdatabank_type=None), _venue(), tiers)
    with pytest.raises(Unlistable, match="event type"):
        _body(_event(uitdatabank_type="9.9.9.9.9"), _venue(), tiers)


def test_a_cancellation_is_the_status_unavailable_with_a_reason() -> None:
    assert cancelled_status("nl") == {
        "type": "Unavailable", "reason": {"nl": "Deze voorstelling is geannuleerd."}
    }  # fmt: skip
    assert status_problems(cancelled_status("en")) == []


def test_the_digest_changes_with_the_body_only() -> None:
    tiers = [_tier("Stream", 1500, 0)]
    same = _body(_event(), _venue(), tiers)
    assert digest(same) == digest(_body(_event(), _venue(), tiers))
    assert digest(same) != digest(_body(_event(title="Aida"), _venue(), tiers))
    assert digest(same) != digest(_body(_event(), _venue(), [_tier("Stream", 1600, 0)]))


def test_the_event_types_are_a_dated_snapshot() -> None:
    snapshot = taxonomy()
    assert datetime.strptime(snapshot.snapshot, "%Y-%m-%d") >= datetime(2026, 1, 1)
    assert datetime.strptime(ENTRY_API_AS_OF, "%Y-%m-%d") <= datetime(2026, 12, 1)
    names = {t.code: t.name("nl") for t in snapshot.types.values()}
    assert names["0.50.4.0.0"] == "Concert"
    assert names["0.55.0.0.0"] == "Theatervoorstelling"
    assert names["0.54.0.0.0"] == "Dansvoorstelling"  # not opera: opera is theatre or concert
    assert not known("0.14.0.0.0")  # Monument: a type of place, not of event
    assert checked("0.55.0.0.0") == "0.55.0.0.0"
    with pytest.raises(ValueError, match="snapshot"):
        checked("0.14.0.0.0")
    french = dict(options("fr"))
    assert french["0.55.0.0.0"] == "Théâtre" and len(french) == len(snapshot.types)
    assert [name for _, name in options("en")] == sorted(
        (name for _, name in options("en")), key=str.casefold
    )
