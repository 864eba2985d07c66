from __future__ import annotations

from starlette.testclient import TestClient

from streamsvc.kit.clock import FixedClock
from tests.factories import make_event, make_performer, make_venue, ok, put_split_rule


def _rule(venue_id: str, *performers: str, venue_bps: int = 10_000) -> dict[str, object]:
    shares = [{"party": {"type": "venue", "id": venue_id}, "bps": venue_bps}]
    shares += [{"party": {"type": "performer", "id": p}, "bps": 1000} for p in performers]
    return {"platform_fee_bps": 500, "costs": [], "shares": shares}


def test_each_put_is_a_new_version_and_old_ones_stay(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    event = make_event(client, venue, clock.now())
    singer = make_performer(client, venue)
    first = put_split_rule(client, venue, event["id"])
    second = put_split_rule(client, venue, event["id"], [singer["id"]])
    assert (first["version"], second["version"]) == (1, 2)
    url = f"/v1/events/{event['id']}/split-rule"
    assert ok(client.get(url, headers=venue.headers)) == second
    assert ok(client.get(url, params={"version": 1}, headers=venue.headers)) == first
    assert client.get(url, params={"version": 3}, headers=venue.headers).status_code == 404
    assert second["costs"] == [{"label": "stream production", "amount": 50000, "currency": "EUR"}]
    assert second["shares"][1] == {"party": {"type": "performer", "id": singer["id"]}, "bps": 1000}


def test_shares_must_sum_to_exactly_10000(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    event = make_event(client, venue, clock.now())
    url = f"/v1/events/{event['id']}/split-rule"
    response = client.put(url, json=_rule(venue.id, venue_bps=9999), headers=venue.headers)
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {
        "shares": "shares sum to 9999 basis points, not 10000"
    }
    assert client.get(url, headers=venue.headers).status_code == 404  # nothing stored


def test_parties_must_exist_and_appear_once(client: TestClient, clock: FixedClock) -> None:
    venue, other = make_venue(client), make_venue(client, "Co-producer")
    event = make_event(client, venue, clock.now())
    foreign = make_performer(client, other)
    body = {
        "platform_fee_bps": 500,
        "costs": [{"label": "crew", "amount": 100, "currency": "USD"}],
        "shares": [
            {"party": {"type": "venue", "id": venue.id}, "bps": 4000},
            {"party": {"type": "venue", "id": venue.id}, "bps": 1000},
            # Another venue only once it accepted to co-produce (tests/coproductions).
            {"party": {"type": "venue", "id": other.id}, "bps": 2000},
            {"party": {"type": "performer", "id": foreign["id"]}, "bps": 2000},
            {"party": {"type": "performer", "id": "prf_missing"}, "bps": 1000},
        ],
    }
    response = client.put(f"/v1/events/{event['id']}/split-rule", json=body, headers=venue.headers)
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {
        "costs[0].currency": "must be the event's currency, EUR",
        "shares[1].party": "this party already has a share",
        "shares[2].party.id": "not this venue nor a venue that accepted to co-produce the event",
        "shares[3].party.id": "no such performer",
        "shares[4].party.id": "no such performer",
    }


def test_bps_are_bounded(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    event = make_event(client, venue, clock.now())
    body = _rule(venue.id)
    body["platform_fee_bps"] = 10_001
    response = client.put(f"/v1/events/{event['id']}/split-rule", json=body, headers=venue.headers)
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {"platform_fee_bps"}
