"""Recording test helpers: a recording through the API, with offers, holders and a rule."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.factories import VenueHandle, ok


def recording_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Bill Evans Trio, live at the Bimhuis",
        "description": "The second set of 12 March 1969.\n\nRemastered from the tapes.",
        "recorded_on": "1969-03-12",
        "duration_seconds": 5520,
        "kind": "video",
        "playback": "https://origin.example.org",
        "quality": "hd",
        "licence": "cc-by-sa-4.0",
        "copyright_holder": "Stichting Jazzarchief",
        "credit_line": "Recorded by the VARA; restored by Stichting Jazzarchief",
    }
    body.update(over)
    return body


def make_recording(client: TestClient, venue: VenueHandle, **over: Any) -> Any:
    return ok(
        client.post("/v1/recordings", json=recording_body(**over), headers=venue.headers), 201
    )


RENTAL = {"price_amount": 499, "vat_rate_bps": 2100, "start_within_days": 30, "watch_hours": 48}
PURCHASE = {"price_amount": 1299, "vat_rate_bps": 2100}


def put_offers(client: TestClient, venue: VenueHandle, recording_id: str, **body: Any) -> Any:
    return ok(client.put(f"/v1/recordings/{recording_id}/offers", json=body,
                         headers=venue.headers))  # fmt: skip


def make_holder(client: TestClient, venue: VenueHandle, name: str = "Estate of Bill Evans") -> Any:
    body = {"name": name, "email": "estate@example.org"}
    return ok(client.post("/v1/rights-holders", json=body, headers=venue.headers), 201)


def venue_only_rule(venue: VenueHandle) -> dict[str, Any]:
    return {"platform_fee_bps": 500, "costs": [],
            "shares": [{"party": {"type": "venue", "id": venue.id}, "bps": 10_000}]}  # fmt: skip


def published_recording(
    client: TestClient, venue: VenueHandle, *, free: bool = False, **over: Any
) -> Any:
    """A recording in the archive: a rental and a purchase (or free) and, when sold, a rule."""
    recording = make_recording(client, venue, **over)
    if free:
        put_offers(client, venue, recording["id"], free=True)
    else:
        put_offers(client, venue, recording["id"], rental=RENTAL, purchase=PURCHASE)
        ok(client.put(f"/v1/recordings/{recording['id']}/split-rule", json=venue_only_rule(venue),
                      headers=venue.headers))  # fmt: skip
    return ok(client.post(f"/v1/recordings/{recording['id']}/publish", headers=venue.headers))
