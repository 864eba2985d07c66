"""Failed logins slow down per account and address, and per address; an attacker cannot
lock the real admin out: from another address, with password and code, they get in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.staff.throttle import wait_seconds
from tests.staff.helpers import admin_signed_in, browser, enrol_totp, log_in, post

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


def test_waits_double_after_the_free_failures() -> None:
    assert [wait_seconds(n, 2) for n in range(1, 7)] == [0, 0, 1, 2, 4, 8]
    assert wait_seconds(100, 2) == 900


def test_an_account_from_one_address_waits_but_the_admin_elsewhere_does_not(
    strict: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(strict, queue, database, settings, clock.now())
    attacker = browser(strict, "203.0.113.66")
    assert [log_in(attacker, admin.email, WRONG).status_code for _ in range(3)] == [401] * 3
    # The third failure earned a second's wait: even the right password waits now.
    refused = log_in(attacker, admin.email, admin.password)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    # The real admin, from their own address, is not slowed down at all.
    admin_browser = browser(strict, "198.51.100.10")
    assert log_in(admin_browser, admin.email).status_code == 303
    # Once the wait is over, that address may try again.
    clock.advance(seconds=2)
    assert log_in(attacker, admin.email, admin.password).status_code == 303


def test_an_address_trying_many_accounts_waits_for_every_account(
    strict: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(strict, queue, database, settings, clock.now())
    sprayer = browser(strict, "203.0.113.77")
    answers = [log_in(sprayer, f"user{n}@example.org", WRONG).status_code for n in range(5)]
    assert answers == [401] * 5
    blocked = log_in(sprayer, admin.email, admin.password)
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    assert log_in(browser(strict, "198.51.100.11"), admin.email).status_code == 303


def test_an_account_under_attack_from_many_addresses_still_lets_its_admin_in_with_a_code(
    strict: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(strict, queue, database, settings, clock.now())
    secret, _codes = enrol_totp(strict, clock.now())
    for n in range(6):  # one try from each of many addresses: no per-address wait
        assert log_in(browser(strict, f"203.0.113.{n}"), admin.email, WRONG).status_code == 401
    # Under attack, a wrong password goes on to the code step as a right one does, so
    # guessing tells nothing; and no code gets a wrong password in.
    guesser = browser(strict, "203.0.113.200")
    step = log_in(guesser, admin.email, WRONG)
    assert step.status_code == 200 and 'name="code"' in step.text
    code = pyotp.TOTP(secret).at(clock.now().timestamp() + 30)
    assert post(guesser, "/console/login/code", {"code": code}).status_code == 401
    # The admin, from a fresh address, with password and code: in.
    clock.advance(seconds=60)
    fresh = browser(strict, "198.51.100.12")
    step = log_in(fresh, admin.email)
    assert step.status_code == 200 and 'name="code"' in step.text
    signed = post(fresh, "/console/login/code", {"code": pyotp.TOTP(secret).at(clock.now())})
    assert signed.status_code == 303
    assert fresh.get("/console/account").status_code == 200
