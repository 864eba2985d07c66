"""Console sessions end when idle, at their absolute timeout, at logout, and everywhere."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from tests.staff.helpers import admin_signed_in, browser, csrf, log_in, post


def _signed_in(client: TestClient) -> bool:
    answer = client.get("/console/account", follow_redirects=False)
    if answer.status_code == 303:
        assert answer.headers["location"] == "/console/login?next=/console/account"
        return False
    assert answer.status_code == 200, answer.text
    return True


def test_a_session_ends_after_the_idle_timeout(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin_signed_in(client, queue, database, settings, clock.now())
    idle = settings.staff_session_idle_minutes
    clock.advance(minutes=idle - 1)
    assert _signed_in(client)
    clock.advance(minutes=idle - 1)  # used a minute ago: counted from then
    assert _signed_in(client)
    clock.advance(minutes=idle)
    assert not _signed_in(client)


def test_a_session_in_use_ends_at_its_absolute_timeout(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin_signed_in(client, queue, database, settings, clock.now())
    used_for = 0
    step = settings.staff_session_idle_minutes - 5
    while used_for + step < settings.staff_session_absolute_hours * 60:
        clock.advance(minutes=step)
        used_for += step
        assert _signed_in(client)
    clock.advance(minutes=step)
    assert not _signed_in(client)


def test_logout_ends_the_session(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin_signed_in(client, queue, database, settings, clock.now())
    cookie = client.cookies.get("staff_session", path="/console")
    assert cookie
    assert (
        post(client, "/console/logout", {}, token=csrf(client, "/console/account")).status_code
        == 303
    )
    assert not _signed_in(client)
    # The old cookie, kept by someone, is worth nothing either.
    client.cookies.set("staff_session", cookie, path="/console")
    assert not _signed_in(client)


def test_log_out_everywhere_ends_every_session_of_the_person(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    laptop = browser(client, "198.51.100.20")
    assert log_in(laptop, admin.email).status_code == 303
    assert _signed_in(laptop)
    ended = post(
        client, "/console/account/sessions/end", {}, token=csrf(client, "/console/account")
    )
    assert ended.status_code == 303
    assert not _signed_in(client)
    assert not _signed_in(laptop)
