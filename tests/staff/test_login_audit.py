"""The audit log of logging in and of two factors: every wrong password and every wrong
code is a `login.failed` entry naming the person by id and the reason, never the
address typed; a try at an unknown address is in no venue's log; tries refused for
waiting (429) are not recorded one by one; turning TOTP on or off and renewing the
recovery codes are recorded too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.audit.models import AuditEntry
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.staff.models import Person
from tests.audit.log import Log
from tests.staff.helpers import admin_signed_in, browser, csrf, enrol_totp, log_in, post

WRONG = "not the password at all"


@pytest.fixture
def strict(settings: Settings, clock: FixedClock, queue: Any) -> Iterator[TestClient]:
    """The app with small allowances: 2 free failures per account and address, 4 per
    address, 6 per account from every address."""
    tight = settings.model_copy(update={"staff_login_free_failures": 2,
                                        "staff_login_address_failures": 4,
                                        "staff_login_account_failures": 6})  # fmt: skip
    with TestClient(create_app(tight, clock, queue=queue), raise_server_exceptions=False) as client:
        yield client


def _person_id(database: Database, email: str) -> str:
    with database.unit_of_work() as uow:
        person = uow.session.exec(select(Person).where(Person.email == email)).one()
        return person.id


def _described(entries: list[AuditEntry]) -> list[tuple[str, str | None, str, dict[str, Any]]]:
    return [(e.action, e.venue_id, e.object_id, e.changes) for e in entries]


def _no_address(entries: list[AuditEntry]) -> None:
    for entry in entries:
        assert "@" not in str(entry.changes) and "@" not in entry.object_id


def test_a_wrong_password_is_recorded_by_person_id_and_an_unknown_address_nowhere(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    person_id = _person_id(database, admin.email)
    log = Log(database)
    other = browser(client, "198.51.100.30")
    assert log_in(other, admin.email, WRONG).status_code == 401
    entries = log.new()
    assert _described(entries) == [
        ("login.failed", admin.venue_id, person_id,
         {"step": "password", "reason": "wrong_password"}),
    ]  # fmt: skip
    assert entries[0].object_type == "person"
    _no_address(entries)
    # An address no one has: the same answer, and nothing in any log (no venue to put
    # it in, and the log never holds an address).
    assert log_in(other, "nobody@example.org", WRONG).status_code == 401
    assert log.new() == []
    # The right password: a success, not a failure.
    assert log_in(other, admin.email).status_code == 303
    assert [e.action for e in log.new()] == ["login.succeeded"]


def test_a_wrong_code_after_the_right_password_is_recorded(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    secret, _codes = enrol_totp(client, clock.now())
    person_id = _person_id(database, admin.email)
    log = Log(database)
    other = browser(client, "198.51.100.31")
    step = log_in(other, admin.email)
    assert step.status_code == 200 and 'name="code"' in step.text
    assert log.new() == []  # the right password alone is neither a failure nor a login
    wrong = pyotp.TOTP(secret).at(clock.now().timestamp() + 600)  # another step's code
    assert post(other, "/console/login/code", {"code": wrong}).status_code == 401
    entries = log.new()
    assert _described(entries) == [
        ("login.failed", admin.venue_id, person_id, {"step": "code", "reason": "wrong_code"}),
    ]
    _no_address(entries)
    clock.advance(seconds=60)  # the enrolment used the code of its own step
    right = pyotp.TOTP(secret).at(clock.now())
    assert post(other, "/console/login/code", {"code": right}).status_code == 303
    assert [e.action for e in log.new()] == ["login.succeeded"]


def test_under_attack_a_wrong_password_is_recorded_though_it_goes_on_to_the_code_step(
    strict: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(strict, queue, database, settings, clock.now())
    secret, _codes = enrol_totp(strict, clock.now())
    person_id = _person_id(database, admin.email)
    log = Log(database)
    for n in range(6):  # one try from each of many addresses: the account is attacked
        assert log_in(browser(strict, f"203.0.113.{n}"), admin.email, WRONG).status_code == 401
    failed = ("login.failed", admin.venue_id, person_id,
              {"step": "password", "reason": "wrong_password"})  # fmt: skip
    assert _described(log.new()) == [failed] * 6
    guesser = browser(strict, "203.0.113.200")
    step = log_in(guesser, admin.email, WRONG)
    assert step.status_code == 200 and 'name="code"' in step.text  # the answer tells nothing
    assert _described(log.new()) == [failed]  # the log does
    # The codes sent after a wrong password are not checked: the failure is recorded once.
    code = pyotp.TOTP(secret).at(clock.now())
    assert post(guesser, "/console/login/code", {"code": code}).status_code == 401
    assert log.new() == []


def test_tries_refused_for_waiting_are_not_recorded_one_by_one(
    strict: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(strict, queue, database, settings, clock.now())
    log = Log(database)
    attacker = browser(strict, "203.0.113.66")
    answers = [log_in(attacker, admin.email, WRONG).status_code for _ in range(8)]
    assert answers[:3] == [401] * 3 and set(answers[3:]) == {429}
    assert [e.action for e in log.new()] == ["login.failed"] * 3


def test_two_factors_turned_on_renewed_and_off_are_recorded(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    person_id = _person_id(database, admin.email)
    log = Log(database)
    enrol_totp(client, clock.now())
    renewed = post(client, "/console/account/recovery-codes", {},
                   token=csrf(client, "/console/account"))  # fmt: skip
    assert renewed.status_code == 200
    off = post(client, "/console/account/totp/disable", {"password": admin.password},
               token=csrf(client, "/console/account"))  # fmt: skip
    assert off.status_code == 200
    entries = log.new()
    assert _described(entries) == [
        ("mfa.enabled", admin.venue_id, person_id, {}),
        ("recovery_codes.regenerated", admin.venue_id, person_id, {}),
        ("mfa.disabled", admin.venue_id, person_id, {}),
    ]
    assert {(e.actor_kind, e.actor_id, e.object_type) for e in entries} == {
        ("staff", person_id, "person")
    }
    # A wrong password does not turn TOTP off, and is no entry of its own.
    enrol_totp(client, clock.now())
    log.new()
    wrong = post(client, "/console/account/totp/disable", {"password": WRONG},
                 token=csrf(client, "/console/account"))  # fmt: skip
    assert wrong.status_code == 422
    assert log.new() == []
