"""Platform test helpers: a platform admin made as the CLI makes one, who set a
password by the printed link, logged in and set up the second factor."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyotp
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.platform.admins import create_platform_admin
from streamsvc.venues.schemas import ApiKeyCreate
from streamsvc.venues.service import create_api_key
from tests.factories import VenueHandle, bearer
from tests.staff.helpers import PASSWORD, csrf, post, token_of

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Operator:
    email: str
    totp_secret: str

    def code(self, now: datetime) -> str:
        return pyotp.TOTP(self.totp_secret).at(now)


def set_password(client: TestClient, link: str, password: str = PASSWORD) -> Any:
    token = csrf(client, "/console/password/reset")
    fields = {"token": token_of(link), "password": password, "password_again": password}
    return post(client, "/console/password/reset", fields, token=token)


def log_in(
    client: TestClient, email: str, password: str = PASSWORD, next_path: str = "/platform"
) -> Any:
    fields = {"email": email, "password": password, "next": next_path}
    return post(client, "/console/login", fields, token=csrf(client))


def platform_admin_signed_in(
    client: TestClient, database: Database, settings: Settings, now: datetime,
    email: str = "olga@platform.example",
) -> Operator:  # fmt: skip
    """A platform admin (as `streamsvc platform-admin create` makes one) signed in on
    `client` with a second factor set up."""
    with database.unit_of_work() as uow:
        _, link = create_platform_admin(uow.session, settings, email, "Olga Operator", now)
    assert link is not None
    assert set_password(client, link).headers["location"] == "/console/login?done=password_set"
    answer = log_in(client, email)
    assert answer.status_code == 303 and answer.headers["location"] == "/platform", answer.text
    # The platform console always wants a second factor: first to the enrolment.
    first = client.get("/platform", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/platform/account"
    page = client.get("/platform/account")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)
    token = _CSRF.search(page.text)
    assert secret and token, page.text
    code = pyotp.TOTP(secret.group(1)).at(now)
    enrolled = post(client, "/platform/account/totp", {"code": code}, token=token.group(1))
    assert enrolled.status_code == 200 and 'id="recovery-codes"' in enrolled.text, enrolled.text
    return Operator(email, secret.group(1))


def venue_key(database: Database, venue_id: str, now: datetime) -> VenueHandle:
    """An admin API key of the venue (as its admin would make in the console)."""
    with database.unit_of_work() as uow:
        _, clear = create_api_key(
            uow.session, venue_id, ApiKeyCreate(role="admin", label="tests"), now
        )
    return VenueHandle(venue_id, clear, bearer(clear))


def platform_form(client: TestClient, path: str, data: dict[str, str] | None = None) -> Any:
    """A form of the platform console, with the CSRF token of its overview page."""
    page = client.get("/platform")
    token = _CSRF.search(page.text)
    assert token, page.text[:500]
    return post(client, path, data or {}, token=token.group(1))


def operator_logs_in(client: TestClient, operator: Operator, now: datetime) -> None:
    """The platform admin logs in again: the password, then the one-time code."""
    client.cookies.clear()
    step = log_in(client, operator.email)
    assert step.status_code == 200 and 'name="code"' in step.text, step.text
    token = _CSRF.search(step.text)
    assert token
    done = post(client, "/console/login/code", {"code": operator.code(now), "next": "/platform"},
                token=token.group(1))  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/platform", done.text
