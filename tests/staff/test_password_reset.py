"""Forgotten passwords: a mailed link, once, for an hour; the same answer for anyone."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from tests.staff.helpers import (
    admin_signed_in,
    browser,
    csrf,
    log_in,
    post,
    send_mails,
    token_of,
)

NEW = "a brand new long passphrase"


def _forgot(client: TestClient, email: str) -> Any:
    return post(client, "/console/password/forgot", {"email": email},
                token=csrf(client, "/console/password/forgot"))  # fmt: skip


def _reset(client: TestClient, link: str, password: str = NEW) -> Any:
    return post(client, "/console/password/reset",
                {"token": token_of(link), "password": password, "password_again": password},
                token=csrf(client, "/console/password/reset"))  # fmt: skip


def test_a_reset_link_works_once_ends_every_session_and_expires(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    stranger = browser(client, "198.51.100.60")
    known, unknown = _forgot(stranger, admin.email), _forgot(stranger, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert 'id="forgot-answer"' in known.text and 'id="forgot-answer"' in unknown.text
    [link] = send_mails(queue, database, settings, clock.now())  # one mail: the member's
    assert link.startswith(f"{settings.public_url}/console/password/reset#token=")

    assert _reset(stranger, link).status_code == 303
    assert client.get("/console/account", follow_redirects=False).status_code == 303
    assert log_in(stranger, admin.email, admin.password).status_code == 401
    assert log_in(browser(client, "198.51.100.61"), admin.email, NEW).status_code == 303
    assert _reset(stranger, link, "yet another long passphrase").status_code == 410

    _forgot(stranger, admin.email)
    [late] = send_mails(queue, database, settings, clock.now())
    clock.advance(minutes=61)
    assert _reset(stranger, late, "yet another long passphrase").status_code == 410
