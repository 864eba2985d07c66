from __future__ import annotations

import subprocess
import sys

from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.kit.clock import FixedClock
from tests.factories import PLATFORM, bearer, make_venue, ok
from tests.harness import Infrastructure

VENUE = {"name": "Toneelgroep Oost", "country": "NL", "currency": "EUR",
         "timezone": "Europe/Amsterdam"}  # fmt: skip


def test_platform_key_creates_a_venue_and_its_first_admin_key(client: TestClient) -> None:
    created = ok(client.post("/v1/venues", json=VENUE, headers=PLATFORM), 201)
    assert created["venue"]["id"].startswith("ven_")
    assert created["venue"]["slug"] == "toneelgroep-oost"
    key = created["api_key"]
    assert key["role"] == "admin"
    assert key["key"].startswith("ssk_") and key["key"].startswith(key["prefix"])
    # The key works, and is never shown again.
    listed = ok(client.get("/v1/api-keys", headers=bearer(key["key"])))
    assert [k["id"] for k in listed["data"]] == [key["id"]]
    assert "key" not in listed["data"][0]


def test_only_the_platform_key_creates_venues(client: TestClient) -> None:
    venue = make_venue(client)
    for headers in ({}, bearer("wrong"), venue.headers):
        response = client.post("/v1/venues", json=VENUE, headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] in ("unauthenticated", "invalid_api_key")


def test_slugs_are_unique(client: TestClient) -> None:
    first = ok(client.post("/v1/venues", json=VENUE, headers=PLATFORM), 201)
    second = ok(client.post("/v1/venues", json=VENUE, headers=PLATFORM), 201)
    assert first["venue"]["slug"] != second["venue"]["slug"]
    taken = client.post("/v1/venues", json={**VENUE, "slug": first["venue"]["slug"]},
                        headers=PLATFORM)  # fmt: skip
    assert taken.status_code == 409
    assert taken.json()["error"]["fields"] == {"slug": "taken"}


def test_venue_fields_are_validated(client: TestClient) -> None:
    response = client.post(
        "/v1/venues",
        json={"name": "", "country": "XX", "currency": "EURO", "timezone": "Mars/Olympus",
              "colour": "red"},
        headers=PLATFORM,
    )  # fmt: skip
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {
        "name", "country", "currency", "timezone", "colour"
    }  # fmt: skip


def test_keys_are_stored_hashed(client: TestClient, engine: object) -> None:
    venue = make_venue(client)
    with engine.connect() as conn:  # type: ignore[attr-defined]
        stored = conn.execute(text("SELECT lookup, secret_hash FROM api_keys")).all()
    assert len(stored) == 1
    assert venue.key not in str(stored)
    assert len(stored[0].secret_hash) == 64


def test_finance_keys_read_but_do_not_administer(client: TestClient) -> None:
    venue = make_venue(client)
    finance = ok(
        client.post("/v1/api-keys", json={"role": "finance", "label": "books"},
                    headers=venue.headers), 201,
    )  # fmt: skip
    headers = bearer(finance["key"])
    assert client.get("/v1/events", headers=headers).status_code == 200
    denied = client.post("/v1/api-keys", json={"role": "admin", "label": "x"}, headers=headers)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "admin_key_required"


def test_a_revoked_key_stops_working_at_once(client: TestClient) -> None:
    venue = make_venue(client)
    second = ok(client.post("/v1/api-keys", json={"role": "admin", "label": "laptop"},
                            headers=venue.headers), 201)  # fmt: skip
    assert client.get("/v1/events", headers=bearer(second["key"])).status_code == 200
    assert client.delete(f"/v1/api-keys/{second['id']}", headers=venue.headers).status_code == 204
    gone = client.get("/v1/events", headers=bearer(second["key"]))
    assert gone.status_code == 401
    assert gone.json()["error"]["code"] == "invalid_api_key"
    again = client.delete(f"/v1/api-keys/{second['id']}", headers=venue.headers)
    assert again.status_code == 404


def test_the_last_admin_key_cannot_be_revoked(client: TestClient) -> None:
    venue = make_venue(client)
    [only] = ok(client.get("/v1/api-keys", headers=venue.headers))["data"]
    response = client.delete(f"/v1/api-keys/{only['id']}", headers=venue.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_admin_key"
    assert client.get("/v1/events", headers=venue.headers).status_code == 200


def test_last_used_is_recorded_once_a_minute(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    client.get("/v1/events", headers=venue.headers)
    first = ok(client.get("/v1/api-keys", headers=venue.headers))["data"][0]["last_used_at"]
    assert first is not None
    clock.advance(seconds=20)
    client.get("/v1/events", headers=venue.headers)
    assert ok(client.get("/v1/api-keys", headers=venue.headers))["data"][0]["last_used_at"] == first
    clock.advance(minutes=2)
    client.get("/v1/events", headers=venue.headers)
    later = ok(client.get("/v1/api-keys", headers=venue.headers))["data"][0]["last_used_at"]
    assert later > first


def test_malformed_and_unknown_keys_are_401(client: TestClient) -> None:
    make_venue(client)
    values = ["Bearer", "Basic abc", "Bearer ssk_short", "Bearer ssk_" + "a" * 44, "Bearer \xff"]
    for value in values:
        headers = [(b"authorization", value.encode("latin-1"))]
        response = client.get("/v1/events", headers=headers)
        assert response.status_code == 401, value


def test_cli_creates_a_venue_and_prints_the_key(
    infra: Infrastructure, settings: Settings, client: TestClient
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streamsvc", "venue", "create", "--name", "Jazz Archief",
         "--country", "BE", "--currency", "EUR", "--timezone", "Europe/Brussels"],
        env=infra.environ(), capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    key = next(line.split()[-1] for line in result.stdout.splitlines() if "admin key" in line)
    assert key.startswith("ssk_")
    assert client.get("/v1/api-keys", headers=bearer(key)).status_code == 200


def test_cli_rejects_bad_input(infra: Infrastructure, settings: Settings) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streamsvc", "venue", "create", "--name", "X",
         "--country", "Nowhere", "--currency", "EUR", "--timezone", "Europe/Brussels"],
        env=infra.environ(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--country" in result.stdout
