"""Two factors: a venue may require them of its admins (by default in production)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pyotp
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Environment, Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.staff.console import mfa_required
from streamsvc.staff.models import Person, RecoveryCode
from streamsvc.venues.models import Venue
from tests.staff.helpers import admin_signed_in, csrf, enrol_totp, log_in, post


def _venue(require: bool | None) -> Venue:
    return Venue(id="ven_x", name="x", slug="x", country="NL", currency="EUR",
                 timezone="Europe/Amsterdam", created_at=datetime.now(UTC),
                 require_mfa_for_admins=require)  # fmt: skip


def test_two_factors_are_required_by_default_in_production_only(settings: Settings) -> None:
    production = settings.model_copy(update={"env": Environment.production})
    assert mfa_required(_venue(None), production)
    assert not mfa_required(_venue(None), settings)
    assert mfa_required(_venue(True), settings)
    assert not mfa_required(_venue(False), production)


def _require(database: Database, venue_id: str) -> None:
    with database.unit_of_work() as uow:
        venue = uow.session.get(Venue, venue_id)
        assert venue is not None
        venue.require_mfa_for_admins = True
        uow.session.add(venue)


def test_an_admin_without_totp_is_sent_to_enrol_before_anything_else(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    _require(database, admin.venue_id)
    for path in ("/console/members", "/console/api-keys"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/account"
    page = client.get("/console/account")
    assert page.status_code == 200 and 'id="must-enrol"' in page.text
    assert "otpauth://totp/" in page.text and "<svg" in page.text
    enrol_totp(client, clock.now())
    assert client.get("/console/members").status_code == 200
    # Required: it cannot be turned off.
    off = post(client, "/console/account/totp/disable", {"password": admin.password},
               token=csrf(client, "/console/account"))  # fmt: skip
    assert off.status_code == 409
    with database.unit_of_work() as uow:
        person = uow.session.exec(select(Person).where(Person.email == admin.email)).one()
        assert person.totp_secret is not None


def test_totp_turned_off_with_the_password_and_recovery_codes_renewed(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    _secret, first = enrol_totp(client, clock.now())
    renewed = post(client, "/console/account/recovery-codes", {},
                   token=csrf(client, "/console/account"))  # fmt: skip
    assert renewed.status_code == 200 and first[0] not in renewed.text
    # The old codes are gone: only the ten new ones remain.
    with database.unit_of_work() as uow:
        assert len(uow.session.exec(select(RecoveryCode)).all()) == 10
    client.cookies.clear()
    log_in(client, admin.email)
    assert post(client, "/console/login/code", {"code": first[0]}).status_code == 401
    client.cookies.clear()
    log_in(client, admin.email)
    # (a new code from the renewed page)
    new_code = renewed.text.split("<li><code>", 1)[1].split("</code>", 1)[0]
    assert post(client, "/console/login/code", {"code": new_code}).status_code == 303
    token = csrf(client, "/console/account")
    wrong = post(
        client, "/console/account/totp/disable", {"password": "nope nope nope"}, token=token
    )
    assert wrong.status_code == 422
    assert post(client, "/console/account/totp/disable", {"password": admin.password},
                token=token).status_code == 200  # fmt: skip
    client.cookies.clear()
    assert log_in(client, admin.email).status_code == 303  # no code step any more


def test_a_wrong_enrolment_code_turns_nothing_on(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin_signed_in(client, queue, database, settings, clock.now())
    answer = post(client, "/console/account/totp", {"code": "123456"},
                  token=csrf(client, "/console/account"))  # fmt: skip
    assert answer.status_code == 422 and 'id="error-code"' in answer.text
    assert 'id="totp-secret"' in answer.text  # still enrolling


def test_turning_two_factors_on_and_off_is_said_and_doing_it_twice_is_refused_in_words(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    page = client.get("/console/account")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)
    assert secret, page.text
    code = pyotp.TOTP(secret.group(1)).at(clock.now())
    token = csrf(client, "/console/account")
    on = post(client, "/console/account/totp", {"code": code}, token=token)
    assert on.status_code == 200, on.text
    assert re.search(r'id="account-done">Two-factor authentication is turned on\.<', on.text)
    again = post(client, "/console/account/totp", {"code": code}, token=token)
    assert again.status_code == 409
    assert "Two-factor authentication is on already." in again.text
    assert 'id="account-done"' not in again.text

    off = post(client, "/console/account/totp/disable", {"password": admin.password}, token=token)
    assert off.status_code == 200, off.text
    assert re.search(r'id="account-done">Two-factor authentication is turned off\.<', off.text)
    codes = post(client, "/console/account/recovery-codes", {}, token=token)
    assert codes.status_code == 409
    assert "Two-factor authentication is off: turn it on first." in codes.text
