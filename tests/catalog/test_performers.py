from __future__ import annotations

from starlette.testclient import TestClient

from tests.factories import make_performer, make_venue, ok


def test_performers_are_created_read_changed_and_listed(client: TestClient) -> None:
    venue = make_venue(client)
    anna = make_performer(client, venue, "Anna Netrebko")
    assert anna["id"].startswith("prf_") and anna["payout_reference"] is None
    url = f"/v1/performers/{anna['id']}"
    changed = ok(client.patch(url, json={"payout_reference": "NL91ABNA0417164300"},
                              headers=venue.headers))  # fmt: skip
    assert changed["payout_reference"] == "NL91ABNA0417164300"
    assert changed["name"] == "Anna Netrebko"
    assert ok(client.get(url, headers=venue.headers)) == changed
    make_performer(client, venue, "Juan Florez")
    listed = ok(client.get("/v1/performers", params={"limit": 1}, headers=venue.headers))
    assert len(listed["data"]) == 1 and listed["next_cursor"]
    rest = ok(client.get("/v1/performers", params={"cursor": listed["next_cursor"]},
                         headers=venue.headers))  # fmt: skip
    assert len(rest["data"]) == 1 and rest["next_cursor"] is None


def test_performer_input_is_validated(client: TestClient) -> None:
    venue = make_venue(client)
    response = client.post("/v1/performers", json={"name": " ", "email": "not-an-email"},
                           headers=venue.headers)  # fmt: skip
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {"name", "email"}
    anna = make_performer(client, venue)
    cleared = client.patch(f"/v1/performers/{anna['id']}", json={"name": None},
                           headers=venue.headers)  # fmt: skip
    assert cleared.status_code == 422
