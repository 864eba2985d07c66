"""Who reaches the platform console: platform admins only, with a second factor; a
venue's staff get 403 on every /platform route, and a platform admin without a
membership reaches no venue's console page."""

from __future__ import annotations

import argparse
import re
from typing import Any

import pytest
from sqlmodel import select
from starlette.routing import Route
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.platform.cli import run_create
from streamsvc.staff.models import Person, PlatformAdmin
from streamsvc.venues.models import Venue
from tests.factories import VenueHandle, bearer, make_tier, published_event
from tests.platform.helpers import log_in, platform_admin_signed_in, platform_form, set_password
from tests.staff.helpers import admin_signed_in, csrf, member_signed_in, post

SIGNED_OUT = ("/console/login", "/console/logout", "/console/invitations/", "/console/password/")


def _routes(client: TestClient, prefix: str) -> list[Route]:
    return [route for route in client.app.routes  # type: ignore[attr-defined]
            if isinstance(route, Route) and route.path.startswith(prefix)
            and not route.path.startswith(SIGNED_OUT)]  # fmt: skip


def _fill(path: str, ids: dict[str, str], default: str) -> str:
    for name in re.findall(r"{(\w+)(?::\w+)?}", path):
        path = re.sub(rf"{{{name}(?::\w+)?}}", ids.get(name, default), path)
    return path


def _suspended(database: Database, venue_id: str) -> bool:
    with database.unit_of_work() as uow:
        venue = uow.session.get(Venue, venue_id)
        assert venue is not None
        return venue.suspended_at is not None


def test_a_venues_staff_get_403_on_every_platform_route(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    finance = member_signed_in(client, queue, database, settings, clock.now(),
                               "fred@example.org", "finance")  # fmt: skip
    routes = _routes(client, "/platform")
    assert {"/platform", "/platform/venues", "/platform/venues/{venue_id}/suspend",
            "/platform/venues/{venue_id}/resume", "/platform/statement",
            "/platform/statement.csv", "/platform/account"} <= {r.path for r in routes}  # fmt: skip
    fields = {"name": "Mallory's Venue", "country": "NL", "currency": "EUR",
              "timezone": "Europe/Amsterdam", "admin_email": "mallory@example.org"}  # fmt: skip
    for browser in (client, finance):
        for route in routes:
            path = _fill(route.path, {}, admin.venue_id)
            for method in sorted((route.methods or set()) - {"HEAD"}):
                if method == "GET":
                    answer = browser.get(path, follow_redirects=False)
                else:
                    answer = post(browser, path, fields, token=csrf(browser, "/console/account"))
                assert answer.status_code == 403, (method, path, answer.status_code)
                assert "Mallory" not in answer.text
    assert not _suspended(database, admin.venue_id)
    with database.unit_of_work() as uow:
        assert (
            uow.session.exec(select(Venue).where(Venue.name == "Mallory's Venue")).first() is None
        )


def test_signed_out_the_platform_sends_to_the_login(client: TestClient) -> None:
    answer = client.get("/platform", follow_redirects=False)
    assert (
        answer.status_code == 303 and answer.headers["location"] == "/console/login?next=/platform"
    )
    assert client.get("/platform/statement.csv", follow_redirects=False).status_code == 303


def test_a_platform_admin_without_membership_reaches_no_venue_console_page(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    other = TestClient(client.app, raise_server_exceptions=False, client=("198.51.100.9", 5000))
    other.portal = client.portal
    b = admin_signed_in(other, queue, database, settings, clock.now(), email="bob@example.org",
                        name="Het Muziekgebouw", admin_name="Bob Beheerder")  # fmt: skip
    venue_b = VenueHandle(b.venue_id, b.key, bearer(b.key))
    event = published_event(client, venue_b, clock.now(), title="Carmen bij het Muziekgebouw")
    tier = make_tier(client, venue_b, event["id"], name="Balcony")
    platform_admin_signed_in(client, database, settings, clock.now())
    ids = {"event_id": event["id"], "tier_id": tier["id"], "venue_id": b.venue_id}
    routes = _routes(client, "/console")
    assert len(routes) > 20
    for route in routes:
        path = _fill(route.path, ids, b.venue_id)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            if method == "GET":
                answer = client.get(path, follow_redirects=False)
            else:
                answer = post(client, path, {"venue_id": b.venue_id, "role": "admin",
                                             "email": "mallory@example.org"},
                              token=csrf(client, "/console/login"))  # fmt: skip
            # A page sends the platform admin to the platform console; a JSON route says
            # 403 (404: a path its route refuses before asking who calls).
            assert answer.status_code in (303, 403, 404), (method, path, answer.status_code)
            if answer.status_code == 303:
                assert answer.headers["location"] == "/platform", (method, path)
            assert "Carmen" not in answer.text and "Bob Beheerder" not in answer.text
    # Still signed in to the platform console, and Bob still at his venue.
    assert client.get("/platform", follow_redirects=False).status_code == 200
    assert other.get("/console/members").status_code == 200


def test_the_onboarding_form_says_what_is_wrong_beside_the_field(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    platform_admin_signed_in(client, database, settings, clock.now())
    answer = platform_form(client, "/platform/venues", {
        "name": "", "country": "NL", "currency": "EURO", "timezone": "Mars/Olympus",
        "admin_email": "not an address"})  # fmt: skip
    assert answer.status_code == 422
    for field, words in (("name", "enter the venue&#39;s name"),
                         ("currency", "a currency code such as EUR"),
                         ("timezone", "a timezone such as Europe/Amsterdam"),
                         ("admin_email", "an e-mail address")):  # fmt: skip
        error_id = "error-" + field.replace(".", "-")
        assert re.search(rf'id="{error_id}"[^>]*>{re.escape(words)}</p>', answer.text), field
    assert 'value="not an address"' in answer.text
    with database.unit_of_work() as uow:
        assert uow.session.exec(select(Venue)).first() is None


def test_the_cli_makes_a_platform_admin_with_a_link_and_always_two_factors(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    args = argparse.Namespace(email="Nina@Platform.example", name="Nina Netbeheer")
    assert run_create(settings, args) == 0
    printed = capsys.readouterr().out
    [link] = re.findall(r"https?://\S+#token=\S+", printed)
    assert run_create(settings, args) == 1  # once
    assert "already" in capsys.readouterr().out
    with database.unit_of_work() as uow:
        person = uow.session.exec(
            select(Person).where(Person.email == "nina@platform.example")
        ).one()
        assert uow.session.get(PlatformAdmin, person.id) is not None
    assert set_password(client, link).status_code == 303
    assert log_in(client, "nina@platform.example").headers["location"] == "/platform"
    # No second factor yet: the platform console shows only the enrolment.
    for path in ("/platform", "/platform/statement", "/platform/venues/ven_x"):
        answer = client.get(path, follow_redirects=False)
        assert answer.headers["location"] == "/platform/account", path
    assert "totp-secret" in client.get("/platform/account").text
