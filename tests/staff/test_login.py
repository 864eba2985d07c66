"""Logging in to the console: password, one-time code, recovery codes, same answers."""

from __future__ import annotations

from typing import Any

import pyotp
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from tests.staff.helpers import PASSWORD, admin_signed_in, enrol_totp, log_in, post


def test_the_invited_admin_sets_a_password_and_logs_in(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    assert client.get("/console/account").status_code == 200
    client.cookies.clear()
    answer = log_in(client, admin.email)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/account"
    page = client.get("/console/account")
    assert page.status_code == 200 and admin.email in page.text


def test_with_totp_the_code_is_needed_and_works_once(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    secret, codes = enrol_totp(client, clock.now())
    client.cookies.clear()
    step = log_in(client, admin.email)
    assert step.status_code == 200 and 'name="code"' in step.text
    clock.advance(seconds=30)
    code = pyotp.TOTP(secret).at(clock.now())
    signed = post(client, "/console/login/code", {"code": code, "next": "/console/account"})
    assert signed.status_code == 303, signed.text
    assert client.get("/console/account").status_code == 200
    # The same code again, in a new login: refused (a code works once).
    client.cookies.clear()
    log_in(client, admin.email)
    again = post(client, "/console/login/code", {"code": code})
    assert again.status_code == 401
    # A recovery code works, once.
    client.cookies.clear()
    log_in(client, admin.email)
    assert post(client, "/console/login/code", {"code": codes[0]}).status_code == 303
    client.cookies.clear()
    log_in(client, admin.email)
    assert post(client, "/console/login/code", {"code": codes[0]}).status_code == 401


def test_a_wrong_password_and_an_unknown_account_get_the_same_answer(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    client.cookies.clear()
    wrong = log_in(client, admin.email, "not the password at all")
    unknown = log_in(client, "nobody@example.org", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert "staff_session" not in wrong.cookies and "staff_session" not in unknown.cookies

    def words(text: str) -> str:
        return text.split('<main id="main"', 1)[1].split('name="csrf_token"', 1)[0]

    assert words(wrong.text) == words(unknown.text)


def test_the_login_page_speaks_dutch_and_french(client: TestClient) -> None:
    client.cookies.set("lang", "nl")
    dutch = client.get("/console/login")
    assert "Inloggen" in dutch.text and "Wachtwoord" in dutch.text
    client.cookies.set("lang", "fr")
    assert "Se connecter" in client.get("/console/login").text
