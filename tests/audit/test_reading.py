"""GET /v1/audit: filters, pages, names resolved when read, finance's view, tenants."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from streamsvc import audit
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.kit.context import Actor, actor_var
from streamsvc.staff.models import Person
from tests.audit.log import admin_key_id
from tests.factories import (
    VenueHandle,
    bearer,
    make_event,
    make_tier,
    make_venue,
    ok,
    put_split_rule,
)


def _read(client: TestClient, venue: VenueHandle | dict[str, str], **query: Any) -> Any:
    headers = venue.headers if isinstance(venue, VenueHandle) else venue
    return ok(client.get(f"/v1/audit?{urlencode(query)}", headers=headers))


def _all(client: TestClient, headers: dict[str, str], **query: Any) -> list[dict[str, Any]]:
    """Every entry, page by page."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = _read(client, headers, **query, **({"cursor": cursor} if cursor else {}))
        found += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


@pytest.fixture
def busy(client: TestClient, clock: FixedClock) -> tuple[VenueHandle, dict[str, Any]]:
    """A venue whose admin key made keys, a draft event, a split rule and changed a
    tier's price and capacity; returns the venue and ids."""
    venue = make_venue(client)
    keys = [ok(client.post("/v1/api-keys", json={"role": "admin", "label": f"key {i}"},
                           headers=venue.headers), 201)["id"] for i in range(3)]  # fmt: skip
    ok(client.delete(f"/v1/api-keys/{keys[0]}", headers=venue.headers), 204)
    event = make_event(client, venue, clock.now())
    tier = make_tier(client, venue, event["id"], price_amount=1950, capacity=50)
    put_split_rule(client, venue, event["id"])
    ok(client.patch(f"/v1/tiers/{tier['id']}", json={"price_amount": 2200, "capacity": 60},
                    headers=venue.headers))  # fmt: skip
    return venue, {"keys": keys, "event": event["id"], "tier": tier["id"]}


def test_the_log_reads_newest_first_a_page_at_a_time(
    client: TestClient, busy: tuple[VenueHandle, dict[str, Any]]
) -> None:
    venue, _ = busy
    first = _read(client, venue, limit=2)
    assert len(first["data"]) == 2 and first["next_cursor"]
    everything = _all(client, venue.headers, limit=2)
    assert [e["id"] for e in everything[:2]] == [e["id"] for e in first["data"]]
    actions = [e["action"] for e in everything]
    # Oldest last: the venue's first key (the platform's), then the keys, revoke, ...
    assert actions == [
        "tier.capacity_changed", "tier.price_changed", "split_rule.versioned",
        "api_key.revoked", "api_key.created", "api_key.created", "api_key.created",
        "api_key.created",
    ] or actions == [
        "tier.price_changed", "tier.capacity_changed", "split_rule.versioned",
        "api_key.revoked", "api_key.created", "api_key.created", "api_key.created",
        "api_key.created",
    ]  # fmt: skip
    assert len({e["id"] for e in everything}) == len(everything)  # no entry twice
    stamps = [e["created_at"] for e in everything]
    assert stamps == sorted(stamps, reverse=True)
    bad = client.get("/v1/audit?cursor=not-ours", headers=venue.headers)
    assert bad.status_code == 422 and "query.cursor" in bad.json()["error"]["fields"]


def test_filters_combine(client: TestClient, busy: tuple[VenueHandle, dict[str, Any]]) -> None:
    venue, ids = busy
    admin = admin_key_id(client, venue)

    by_object = _all(client, venue.headers, object_type="api_key", object_id=ids["keys"][0])
    assert [e["action"] for e in by_object] == ["api_key.revoked", "api_key.created"]

    tier = _all(client, venue.headers, object_type="tier")
    assert {e["action"] for e in tier} == {"tier.price_changed", "tier.capacity_changed"}
    assert {e["object_id"] for e in tier} == {ids["tier"]}

    prefix = _all(client, venue.headers, action="api_key.")
    assert [e["action"] for e in prefix].count("api_key.created") == 4
    assert _all(client, venue.headers, action="api_key.rev")[0]["object_id"] == ids["keys"][0]
    # `_` is a letter here, not a LIKE wildcard.
    assert _all(client, venue.headers, action="api_key_") == []

    mine = _all(client, venue.headers, actor_kind="key", actor_id=admin)
    assert len(mine) == 7 and {e["actor"]["id"] for e in mine} == {admin}
    platform = _all(client, venue.headers, actor_kind="platform")
    assert [(e["action"], e["actor"]["label"]) for e in platform] == [
        ("api_key.created", "platform operator")
    ]

    everything = _all(client, venue.headers)
    middle = everything[3]["created_at"]
    newer = _all(client, venue.headers, **{"from": middle})
    older = _all(client, venue.headers, to=middle)
    assert [e["id"] for e in newer + older] == [e["id"] for e in everything]
    assert len(newer) == 4
    both = _all(client, venue.headers, **{"from": everything[-2]["created_at"], "to": middle},
                action="api_key.")  # fmt: skip
    assert [e["id"] for e in both] == [e["id"] for e in everything[4:7]]

    refused = client.get("/v1/audit?action=%25&to=yesterday", headers=venue.headers)
    assert refused.status_code == 422
    assert {"query.action", "query.to"} <= set(refused.json()["error"]["fields"])


def test_names_are_resolved_when_read(
    client: TestClient, database: Database, clock: FixedClock,
    busy: tuple[VenueHandle, dict[str, Any]],
) -> None:  # fmt: skip
    venue, _ = busy
    admin = admin_key_id(client, venue)
    # A person in the console (the console guard sets the actor as the key check does).
    now = datetime.now(UTC)
    with database.unit_of_work() as uow:
        uow.session.add(Person(id="per_ann", email="ann@example.org", display_name="Ann Smit",
                               created_at=now, updated_at=now))  # fmt: skip
    token = actor_var.set(Actor(kind="staff", id="per_ann", label="at the time"))
    try:
        with database.unit_of_work() as uow:
            audit.record(uow.session, venue_id=venue.id, action="member.invited",
                         object_type="member", object_id="per_bob")  # fmt: skip
    finally:
        actor_var.reset(token)
    labels = {(e["actor"]["kind"], e["actor"]["id"]): e["actor"]["label"]
              for e in _all(client, venue.headers)}  # fmt: skip
    assert labels == {("staff", "per_ann"): "Ann Smit", ("key", admin): "first admin",
                      ("platform", "platform"): "platform operator"}  # fmt: skip
    assert "ann@example.org" not in client.get("/v1/audit", headers=venue.headers).text


def test_finance_reads_only_the_money_actions(
    client: TestClient, busy: tuple[VenueHandle, dict[str, Any]]
) -> None:
    venue, _ = busy
    finance = ok(client.post("/v1/api-keys", json={"role": "finance", "label": "books"},
                             headers=venue.headers), 201)  # fmt: skip
    seen = _all(client, bearer(finance["key"]))
    assert sorted(e["action"] for e in seen) == ["split_rule.versioned", "tier.price_changed"]
    # A filter cannot widen it.
    assert _all(client, bearer(finance["key"]), action="api_key.") == []
    assert len(_all(client, venue.headers)) == 9  # the admin reads everything


def test_another_venue_sees_nothing_of_it(
    client: TestClient, busy: tuple[VenueHandle, dict[str, Any]]
) -> None:
    a, ids = busy
    b = make_venue(client, "Venue B")
    seen = _all(client, b.headers)
    assert [(e["action"], e["venue_id"]) for e in seen] == [("api_key.created", b.id)]
    for query in ({"object_id": ids["tier"]}, {"actor_id": admin_key_id(client, a)},
                  {"object_type": "tier"}):  # fmt: skip
        assert _all(client, b.headers, **query) == []
    assert client.get("/v1/audit").status_code == 401
