"""The recordings API: set-up by admin keys, publish and withdraw, offers and split rules,
finance's read-only view, and the public archive (only published, of the right venue)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from streamsvc.kit.clock import FixedClock
from tests.factories import VenueHandle, bearer, make_performer, make_venue, ok
from tests.recordings.helpers import (
    PURCHASE,
    RENTAL,
    make_holder,
    make_recording,
    published_recording,
    put_offers,
    recording_body,
    venue_only_rule,
)


def _finance(client: TestClient, venue: VenueHandle) -> dict[str, str]:
    key = ok(client.post("/v1/api-keys", json={"role": "finance", "label": "books"},
                         headers=venue.headers), 201)["key"]  # fmt: skip
    return bearer(key)


def _audit(client: TestClient, venue: VenueHandle) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(client.get("/v1/audit?limit=100", headers=venue.headers))[
        "data"
    ]
    return found


def test_a_recording_is_created_as_a_draft_with_its_rights_and_media_path(
    client: TestClient,
) -> None:
    venue = make_venue(client)
    singer = make_performer(client, venue)
    created = make_recording(client, venue, performer_ids=[singer["id"]])
    assert created["status"] == "draft" and created["published_at"] is None
    assert created["currency"] == "EUR"
    assert created["media_path"] == f"/vod/{created['id']}/"
    assert created["licence"] == {
        "code": "cc-by-sa-4.0", "short": "CC BY-SA 4.0",
        "name": "Attribution-ShareAlike 4.0 International",
        "url": "https://creativecommons.org/licenses/by-sa/4.0/",
    }  # fmt: skip
    assert created["performer_ids"] == [singer["id"]]
    assert created["access_continues_after_withdrawal"] is True
    read = ok(client.get(f"/v1/recordings/{created['id']}", headers=venue.headers))
    assert read == created


def test_validation_names_the_field_and_refuses_unknown_ones(client: TestClient) -> None:
    venue = make_venue(client)
    cases: dict[str, dict[str, Any]] = {
        "licence": {"licence": "cc-by-3.0"},
        "duration_seconds": {"duration_seconds": 0},
        "recorded_on": {"recorded_on": "1850-01-01"},
        "kind": {"kind": "film"},
        "quality": {"quality": "4k"},
        "playback": {"playback": "ftp://origin.example.org"},
        "credit_line": {"credit_line": "Credit\u202ehidden"},
        "price": {"price": 100},
    }
    for name, over in cases.items():
        answer = client.post("/v1/recordings", json=recording_body(**over), headers=venue.headers)
        assert answer.status_code == 422, (name, answer.text)
        assert name in answer.json()["error"]["fields"], (name, answer.json())
    other = make_venue(client, "Het Muziekgebouw")
    theirs = make_performer(client, other, "Theirs Singer")
    answer = client.post("/v1/recordings", json=recording_body(performer_ids=[theirs["id"]]),
                         headers=venue.headers)  # fmt: skip
    assert answer.status_code == 422
    assert answer.json()["error"]["fields"] == {"performer_ids[0]": "no such performer"}
    with_query = recording_body(playback="https://origin.example.org/?sig=1")
    answer = client.post("/v1/recordings", json=with_query, headers=venue.headers)
    assert answer.json()["error"]["fields"] == {"playback": "no query, fragment or credentials"}


def test_offers_are_bounded_and_free_is_not_also_sold(client: TestClient) -> None:
    venue = make_venue(client)
    recording = make_recording(client, venue)
    path = f"/v1/recordings/{recording['id']}/offers"
    refused = {
        "rental.price_amount": {"rental": {**RENTAL, "price_amount": 49}},
        "purchase.price_amount": {"purchase": {**PURCHASE, "price_amount": 10}},
        "free": {"free": True, "purchase": PURCHASE},
        "rental.watch_hours": {"rental": {**RENTAL, "watch_hours": 0}},
        "rental.start_within_days": {"rental": {**RENTAL, "start_within_days": 366}},
        "purchase.vat_rate_bps": {"purchase": {**PURCHASE, "vat_rate_bps": 5001}},
        "rental.price_amount ": {"rental": {**RENTAL, "price_amount": "4.99"}},
    }
    for name, body in refused.items():
        answer = client.put(path, json=body, headers=venue.headers)
        assert answer.status_code == 422, (name, answer.text)
        assert name.strip() in answer.json()["error"]["fields"], (name, answer.json())
    assert ok(client.get(path, headers=venue.headers))["data"] == []
    # At the provider's minimum exactly: fine.
    cheap = put_offers(client, venue, recording["id"], rental={**RENTAL, "price_amount": 50})
    assert [o["kind"] for o in cheap["data"]] == ["rental"]


def test_an_unchanged_offer_keeps_its_id_and_a_changed_one_gets_a_new_one(
    client: TestClient,
) -> None:
    venue = make_venue(client)
    recording = make_recording(client, venue)
    first = put_offers(client, venue, recording["id"], rental=RENTAL, purchase=PURCHASE)["data"]
    assert [(o["kind"], o["price_amount"], o["watch_hours"]) for o in first] == [
        ("rental", 499, 48), ("purchase", 1299, None)]  # fmt: skip
    second = put_offers(client, venue, recording["id"], rental=RENTAL,
                        purchase={**PURCHASE, "price_amount": 1499})["data"]  # fmt: skip
    assert second[0]["id"] == first[0]["id"]
    assert second[1]["id"] != first[1]["id"] and second[1]["price_amount"] == 1499
    free = put_offers(client, venue, recording["id"], free=True)["data"]
    assert [(o["kind"], o["price_amount"]) for o in free] == [("free", 0)]
    changes = [e for e in _audit(client, venue) if e["action"] == "recording.offers_changed"]
    assert len(changes) == 3


def test_the_split_rule_is_versioned_over_the_venue_performers_and_rights_holders(
    client: TestClient,
) -> None:
    venue = make_venue(client)
    singer = make_performer(client, venue)
    estate = make_holder(client, venue)
    label = make_holder(client, venue, "Blue Note Records")
    recording = make_recording(client, venue, performer_ids=[singer["id"]])
    path = f"/v1/recordings/{recording['id']}/split-rule"
    shares = [{"party": {"type": "performer", "id": singer["id"]}, "bps": 5000},
              {"party": {"type": "rights_holder", "id": estate["id"]}, "bps": 3000},
              {"party": {"type": "rights_holder", "id": label["id"]}, "bps": 2000}]  # fmt: skip
    body = {"platform_fee_bps": 500, "shares": shares,
            "costs": [{"label": "restoration", "amount": 20_000, "currency": "EUR"}]}  # fmt: skip
    first = ok(client.put(path, json=body, headers=venue.headers))
    assert first["version"] == 1 and first["shares"] == shares
    second = ok(client.put(path, json={**body, "platform_fee_bps": 0}, headers=venue.headers))
    assert second["version"] == 2
    assert ok(client.get(path, headers=venue.headers))["version"] == 2
    assert ok(client.get(f"{path}?version=1", headers=venue.headers))["platform_fee_bps"] == 500
    versioned = [e for e in _audit(client, venue) if e["action"] == "recording_split.versioned"]
    assert [e["object_id"] for e in versioned] == [second["id"], first["id"]]

    other = make_venue(client, "Het Muziekgebouw")
    theirs = make_holder(client, other, "Another Estate")
    wrong = {"platform_fee_bps": 0, "costs": [{"label": "x", "amount": 1, "currency": "USD"}],
             "shares": [{"party": {"type": "rights_holder", "id": theirs["id"]}, "bps": 6000},
                        {"party": {"type": "venue", "id": other.id}, "bps": 3000},
                        {"party": {"type": "venue", "id": other.id}, "bps": 1000}]}  # fmt: skip
    answer = client.put(path, json=wrong, headers=venue.headers)
    assert answer.status_code == 422
    assert answer.json()["error"]["fields"] == {
        "costs[0].currency": "must be the recording's currency, EUR",
        "shares[0].party.id": "no such rights holder",
        "shares[1].party.id": "not the recording's venue",
        "shares[2].party": "this party already has a share",
        "shares[2].party.id": "not the recording's venue",
    }
    short = {"platform_fee_bps": 0, "shares": shares[:2]}
    answer = client.put(path, json=short, headers=venue.headers)
    assert answer.json()["error"]["fields"] == {
        "shares": "shares sum to 8000 basis points, not 10000"
    }
    assert ok(client.get(path, headers=venue.headers))["version"] == 2  # nothing stored


def test_publishing_lists_what_is_missing_then_publishes_and_withdraws(
    client: TestClient, clock: FixedClock
) -> None:
    venue = make_venue(client)
    recording = make_recording(client, venue, playback=None)
    base = f"/v1/recordings/{recording['id']}"
    answer = client.post(f"{base}/publish", headers=venue.headers)
    assert answer.status_code == 422
    assert set(answer.json()["error"]["fields"]) == {"playback", "offers"}
    ok(client.patch(base, json={"playback": "https://origin.example.org/"}, headers=venue.headers))
    put_offers(client, venue, recording["id"], rental=RENTAL)
    answer = client.post(f"{base}/publish", headers=venue.headers)
    assert answer.json()["error"]["fields"] == {
        "split_rule": "a recording that is sold needs a split rule"
    }
    ok(client.put(f"{base}/split-rule", json=venue_only_rule(venue), headers=venue.headers))
    published = ok(client.post(f"{base}/publish", headers=venue.headers))
    assert published["status"] == "published"
    assert published["playback"] == "https://origin.example.org"
    assert published["published_at"] == clock.now().isoformat().replace("+00:00", "Z")
    again = client.post(f"{base}/publish", headers=venue.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "recording_published"
    # A published recording keeps an offer and its origin.
    emptied = client.put(f"{base}/offers", json={}, headers=venue.headers)
    assert emptied.status_code == 409
    assert emptied.json()["error"]["code"] == "recording_needs_offer"
    cleared = client.patch(base, json={"playback": None}, headers=venue.headers)
    assert cleared.status_code == 409

    clock.advance(days=1)
    withdrawn = ok(client.post(f"{base}/withdraw", headers=venue.headers))
    assert withdrawn["status"] == "withdrawn" and withdrawn["withdrawn_at"] is not None
    assert client.post(f"{base}/withdraw", headers=venue.headers).status_code == 409
    clock.advance(days=1)
    back = ok(client.post(f"{base}/publish", headers=venue.headers))
    # Published again: it keeps its place in the archive.
    assert back["published_at"] == published["published_at"] and back["withdrawn_at"] is None
    actions = [e["action"] for e in _audit(client, venue) if e["object_id"] == recording["id"]]
    assert actions.count("recording.published") == 2 and "recording.withdrawn" in actions


def test_rights_changes_are_audit_logged(client: TestClient) -> None:
    venue = make_venue(client)
    recording = make_recording(client, venue)
    ok(client.patch(f"/v1/recordings/{recording['id']}", json={"licence": "cc0-1.0",
                    "title": "Renamed"}, headers=venue.headers))  # fmt: skip
    [entry] = [e for e in _audit(client, venue) if e["action"] == "recording.rights_changed"]
    assert entry["changes"] == {"licence": {"before": "cc-by-sa-4.0", "after": "cc0-1.0"}}


def test_a_finance_key_reads_but_cannot_publish_or_change(client: TestClient) -> None:
    venue = make_venue(client)
    recording = make_recording(client, venue)
    put_offers(client, venue, recording["id"], free=True)
    finance = _finance(client, venue)
    base = f"/v1/recordings/{recording['id']}"
    assert ok(client.get(base, headers=finance))["id"] == recording["id"]
    assert ok(client.get(f"{base}/offers", headers=finance))["data"][0]["kind"] == "free"
    assert ok(client.get("/v1/recordings", headers=finance))["data"][0]["id"] == recording["id"]
    for method, path, body in (
        ("POST", f"{base}/publish", None),
        ("POST", f"{base}/withdraw", None),
        ("PATCH", base, {"title": "x"}),
        ("PUT", f"{base}/offers", {"free": True}),
        ("PUT", f"{base}/split-rule", venue_only_rule(venue)),
        ("POST", "/v1/recordings", recording_body()),
        ("POST", "/v1/rights-holders", {"name": "x", "email": "x@example.org"}),
    ):
        answer = client.request(method, path, json=body, headers=finance)
        assert answer.status_code == 403, (method, path, answer.text)
    assert ok(client.get(base, headers=venue.headers))["status"] == "draft"


def test_the_public_archive_shows_only_published_recordings_newest_first(
    client: TestClient, clock: FixedClock
) -> None:
    a, b = make_venue(client), make_venue(client, "Het Muziekgebouw")
    older = published_recording(client, a, title="Older")
    clock.advance(hours=1)
    newer = published_recording(client, b, free=True, title="Newer", licence="cc-by-4.0")
    clock.advance(hours=1)
    make_recording(client, a, title="Draft")
    withdrawn = published_recording(client, a, title="Withdrawn")
    ok(client.post(f"/v1/recordings/{withdrawn['id']}/withdraw", headers=a.headers))

    listed = ok(client.get("/v1/public/recordings"))
    assert [r["title"] for r in listed["data"]] == ["Newer", "Older"]
    assert listed["data"][0]["venue"] == {"id": b.id, "name": "Het Muziekgebouw"}
    assert "email" not in str(listed) and "origin.example.org" not in str(listed)
    only_a = ok(client.get(f"/v1/public/recordings?venue_id={a.id}"))["data"]
    assert [r["id"] for r in only_a] == [older["id"]]
    by_licence = ok(client.get("/v1/public/recordings?licence=cc-by-4.0"))["data"]
    assert [r["id"] for r in by_licence] == [newer["id"]]
    bad = client.get("/v1/public/recordings?licence=gpl")
    assert bad.status_code == 422 and "query.licence" in bad.json()["error"]["fields"]
    first = ok(client.get("/v1/public/recordings?limit=1"))
    assert [r["id"] for r in first["data"]] == [newer["id"]]
    rest = ok(client.get(f"/v1/public/recordings?limit=1&cursor={first['next_cursor']}"))
    assert [r["id"] for r in rest["data"]] == [older["id"]] and rest["next_cursor"] is None

    assert ok(client.get(f"/v1/public/recordings/{older['id']}"))["title"] == "Older"
    for hidden in (withdrawn["id"], "rec_nonexistent"):
        assert client.get(f"/v1/public/recordings/{hidden}").status_code == 404


def test_another_venues_key_reaches_nothing_of_a_recording(client: TestClient) -> None:
    a, b = make_venue(client), make_venue(client, "Het Muziekgebouw")
    recording = make_recording(client, a)
    holder = make_holder(client, a)
    for path in (f"/v1/recordings/{recording['id']}", f"/v1/recordings/{recording['id']}/offers",
                 f"/v1/rights-holders/{holder['id']}"):  # fmt: skip
        assert client.get(path, headers=b.headers).status_code == 404
    assert ok(client.get("/v1/recordings", headers=b.headers))["data"] == []
    assert ok(client.get("/v1/rights-holders", headers=b.headers))["data"] == []
    answer = client.post(f"/v1/recordings/{recording['id']}/publish", headers=b.headers)
    assert answer.status_code == 404
