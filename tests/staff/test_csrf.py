"""Console writes need this browser's CSRF token and, when the browser names one, our origin."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from tests.staff.helpers import admin_signed_in, csrf, log_in, post


def _invite(client: TestClient, **kwargs: Any) -> Any:
    return client.post("/console/members", follow_redirects=False, **kwargs)


def test_a_write_without_the_token_is_refused(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin_signed_in(client, queue, database, settings, clock.now())
    data = {"email": "eve@example.org", "name": "Eve", "role": "admin"}
    assert _invite(client, data=data).status_code == 403
    assert _invite(client, data={**data, "csrf_token": "forged"}).status_code == 403
    assert "eve@example.org" not in client.get("/console/members").text


def test_a_write_from_another_origin_is_refused(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin_signed_in(client, queue, database, settings, clock.now())
    token = csrf(client, "/console/members")
    data = {"email": "eve@example.org", "name": "Eve", "role": "admin", "csrf_token": token}
    assert _invite(client, data=data, headers={"Origin": "https://evil.example"}).status_code == 403
    referer = {"Referer": "https://evil.example/page"}
    assert _invite(client, data=data, headers=referer).status_code == 403
    assert "eve@example.org" not in client.get("/console/members").text
    # The same request from our own origin goes through.
    answer = _invite(client, data=data, headers={"Origin": "http://testserver"})
    assert answer.status_code == 200 and "eve@example.org" in answer.text


def test_the_login_form_needs_the_token_too(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    client.cookies.clear()
    data = {"email": admin.email, "password": admin.password}
    answer = client.post("/console/login", data=data, follow_redirects=False)
    assert answer.status_code == 403 and "staff_session" not in answer.cookies


def test_a_token_from_before_the_logout_is_refused_after_it(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    old = csrf(client, "/console/members")
    assert post(client, "/console/logout", {}, token=old).status_code == 303
    # Logged out: the old token and the old session are both worthless...
    data = {"email": "eve@example.org", "name": "Eve", "role": "admin"}
    assert post(client, "/console/members", data, token=old).status_code == 403
    # ...and after logging in again, the token from before still is.
    assert log_in(client, admin.email).status_code == 303
    assert post(client, "/console/members", data, token=old).status_code == 403
    assert "eve@example.org" not in client.get("/console/members").text
