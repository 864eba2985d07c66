"""A console session of venue A reaches nothing of venue B, on every /console route."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import select
from starlette.routing import Route
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.catalog.models import Event, Tier
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.staff.models import Membership, Person
from streamsvc.venues.models import ApiKey, Venue
from tests.factories import VenueHandle, bearer, make_event, make_tier, ok, published_event
from tests.staff.helpers import admin_signed_in, browser, csrf, log_in, post

# The ways in: no session needed, so nothing of a venue behind them.
SIGNED_OUT = ("/console/login", "/console/logout", "/console/invitations/", "/console/password/")


def _console_routes(client: TestClient) -> list[Route]:
    return [
        route for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.path.startswith("/console")
        and not route.path.startswith(SIGNED_OUT)
    ]  # fmt: skip


def _b_state(database: Database, venue_b: str) -> tuple[Any, ...]:
    with database.unit_of_work() as uow:
        members = uow.session.exec(
            select(Membership.id, Membership.role).where(Membership.venue_id == venue_b)
        ).all()
        keys = uow.session.exec(
            select(ApiKey.id, ApiKey.revoked_at).where(ApiKey.venue_id == venue_b)
        ).all()
        events = uow.session.exec(
            select(Event.id, Event.title, Event.status, Event.updated_at).where(
                Event.venue_id == venue_b
            )
        ).all()
        tiers = uow.session.exec(
            select(Tier.id, Tier.price_amount, Tier.capacity).where(Tier.venue_id == venue_b)
        ).all()
        embed = uow.session.exec(select(Venue.embed_origins).where(Venue.id == venue_b)).one()
        return (tuple(sorted(members)), tuple(sorted(keys, key=lambda k: k[0])),
                tuple(sorted(events)), tuple(sorted(tiers)), tuple(embed))  # fmt: skip


def _b_event(client: TestClient, b: Any, clock: FixedClock) -> dict[str, str]:
    """B's event (with a tier) and B's cancellation job of another event: their ids."""
    venue = VenueHandle(b.venue_id, b.key, bearer(b.key))
    event = make_event(client, venue, clock.now(), title="Carmen bij het Muziekgebouw")
    tier = make_tier(client, venue, event["id"])
    cancelled = published_event(client, venue, clock.now(), title="Tosca bij het Muziekgebouw")
    job = ok(client.post(f"/v1/events/{cancelled['id']}/cancel", headers=venue.headers), 202)
    return {"event_id": event["id"], "tier_id": tier["id"], "job_id": job["id"]}


def test_a_session_of_one_venue_reaches_nothing_of_another(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    other = browser(client, "198.51.100.50")
    b = admin_signed_in(other, queue, database, settings, clock.now(), email="bob@example.org",
                        name="Het Muziekgebouw", admin_name="Bob Beheerder")  # fmt: skip
    a = admin_signed_in(client, queue, database, settings, clock.now())
    with database.unit_of_work() as uow:
        person_b = uow.session.exec(select(Person).where(Person.email == b.email)).one()
        membership_b = uow.session.exec(
            select(Membership).where(Membership.person_id == person_b.id)
        ).one()
        key_b = uow.session.exec(select(ApiKey).where(ApiKey.venue_id == b.venue_id)).one()
    ids = {"membership_id": membership_b.id, "key_id": key_b.id, "venue_id": b.venue_id,
           "person_id": person_b.id, **_b_event(client, b, clock)}  # fmt: skip
    # (Not the ids themselves: the language switch repeats the path it was asked for.)
    markers = ("Het Muziekgebouw", b.email, key_b.lookup, "Bob Beheerder",
               "bij het Muziekgebouw")  # fmt: skip
    before = _b_state(database, b.venue_id)
    routes = _console_routes(client)
    walked = {route.path for route in routes}
    assert {"/console/members", "/console/api-keys", "/console/account", "/console/venue"} <= walked
    assert {"/console", "/console/events/{event_id}", "/console/events/{event_id}/tiers/{tier_id}",
            "/console/events/{event_id}/split-preview", "/console/jobs/{job_id}",
            "/console/events/{event_id}/cancel"} <= walked  # fmt: skip
    for route in routes:
        names = re.findall(r"{(\w+)(?::\w+)?}", route.path)
        path = route.path
        for name in names:
            path = re.sub(rf"{{{name}(?::\w+)?}}", ids.get(name, b.venue_id), path)
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            if method == "GET":
                answer = client.get(path, follow_redirects=False)
                if names:
                    assert answer.status_code in (403, 404), (path, answer.status_code)
            else:
                data = {name: value for name, value in ids.items()}
                data.update(role="admin", email="mallory@example.org", label="x", code="000000")
                answer = post(client, path, data, token=csrf(client, "/console/account"))
                assert answer.status_code != 500, (path, answer.text)
            for marker in markers:
                assert marker not in answer.text, (method, path, marker)
            assert _b_state(database, b.venue_id) == before, (method, path)
            # A route that logged us out (log out everywhere): log in again.
            if client.get("/console/account", follow_redirects=False).status_code == 303:
                assert log_in(client, a.email).status_code == 303
    # Still at our own venue, and B's admin still in at theirs.
    assert "Het Muziekgebouw" not in client.get("/console/account").text
    assert other.get("/console/members").status_code == 200
