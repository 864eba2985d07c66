"""Small factories that build test data through the public API, as a client would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from starlette.testclient import TestClient

from config.settings import DEV_PLATFORM_KEY

PLATFORM = {"Authorization": f"Bearer {DEV_PLATFORM_KEY}"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


@dataclass
class VenueHandle:
    id: str
    key: str
    headers: dict[str, str]


def make_venue(client: TestClient, name: str = "De Nederlandse Opera", **over: Any) -> VenueHandle:
    body = {"name": name, "country": "NL", "currency": "EUR", "timezone": "Europe/Amsterdam"}
    created = ok(client.post("/v1/venues", json={**body, **over}, headers=PLATFORM), 201)
    key = created["api_key"]["key"]
    return VenueHandle(created["venue"]["id"], key, bearer(key))


def make_performer(client: TestClient, venue: VenueHandle, name: str = "Anna Netrebko") -> Any:
    body = {"name": name, "email": f"{name.split(maxsplit=1)[0].lower()}@example.org"}
    return ok(client.post("/v1/performers", json=body, headers=venue.headers), 201)


def make_event(client: TestClient, venue: VenueHandle, now: datetime, **over: Any) -> Any:
    starts = now + timedelta(days=10)
    body: dict[str, Any] = {
        "title": "La Traviata",
        "description": "Verdi, live from Amsterdam.",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=3)).isoformat(),
        "timezone": "Europe/Amsterdam",
        "attendance_mode": "hybrid",
        "doors_open_minutes": 30,
        "replay_hours": 48,
        "allowed_countries": ["NL", "BE"],
        "playback": "https://origin.example.org/live",
    }
    body.update(over)
    return ok(client.post("/v1/events", json=body, headers=venue.headers), 201)


def tier_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Stream HD + backstage camera",
        "price_amount": 1950,
        "vat_rate_bps": 2100,
        "access": {"quality": "hd", "extras": ["backstage_camera"], "max_devices": 2},
    }
    body.update(over)
    return body


def make_tier(client: TestClient, venue: VenueHandle, event_id: str, **over: Any) -> Any:
    return ok(
        client.post(f"/v1/events/{event_id}/tiers", json=tier_body(**over), headers=venue.headers),
        201,
    )


def put_split_rule(
    client: TestClient,
    venue: VenueHandle,
    event_id: str,
    performer_ids: list[str] = (),  # type: ignore[assignment]
) -> Any:
    shares = [
        {"party": {"type": "venue", "id": venue.id}, "bps": 10_000 - 1000 * len(performer_ids)}
    ]
    shares += [{"party": {"type": "performer", "id": pid}, "bps": 1000} for pid in performer_ids]
    body = {
        "platform_fee_bps": 500,
        "costs": [{"label": "stream production", "amount": 50_000, "currency": "EUR"}],
        "shares": shares,
    }
    return ok(client.put(f"/v1/events/{event_id}/split-rule", json=body, headers=venue.headers))


def published_event(client: TestClient, venue: VenueHandle, now: datetime, **over: Any) -> Any:
    """A complete event on sale: one HD tier and a split rule."""
    event = make_event(client, venue, now, **over)
    make_tier(client, venue, event["id"])
    put_split_rule(client, venue, event["id"])
    return ok(client.post(f"/v1/events/{event['id']}/publish", headers=venue.headers))


def buy(
    client: TestClient,
    event_id: str,
    tier_id: str,
    quantity: int = 1,
    email: str = "buyer@example.org",
    **over: Any,
) -> Any:
    """An order through the public API (a PaymentIntent at localstripe)."""
    body: dict[str, Any] = {"email": email, "country": "NL",
                            "items": [{"tier_id": tier_id, "quantity": quantity}]}  # fmt: skip
    body.update(over)
    return ok(client.post(f"/v1/public/events/{event_id}/orders", json=body), 201)
