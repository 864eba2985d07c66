"""Performers sign in to /me with a mailed link: its secret only in the fragment, once,
for 15 minutes; the same answer for any address; rate-limited; sessions time out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.buyers.retention import apply_retention
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.me.models import PerformerSession, PerformerSignInLink
from streamsvc.staff.links import hash_token
from tests.conftest import RecordingQueue
from tests.factories import make_performer, make_venue
from tests.me.helpers import ask_link, body_of, complete, csrf, link_of, post, send_mails
from tests.staff.helpers import browser


@pytest.fixture
def anna(client: TestClient) -> dict[str, Any]:
    venue = make_venue(client)
    performer: dict[str, Any] = make_performer(client, venue, "Anna Netrebko")
    return performer


def _answer(response: Any) -> str:
    """The page without its CSRF token (a new nonce per browser)."""
    return re.sub(r'name="csrf_token" value="[^"]+"', "", response.text)


def test_the_link_carries_its_secret_in_the_fragment_and_works_once(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    anna: dict[str, Any],
) -> None:  # fmt: skip
    asked = ask_link(client, "  Anna@Example.ORG ")
    assert asked.status_code == 200 and 'id="sign-in-answer"' in asked.text
    [message] = send_mails(queue, database, settings, clock.now())
    assert message["To"] == "anna@example.org"
    link = link_of(message)
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == settings.public_url
    assert parts.path == "/me/sign-in/complete" and parts.query == ""
    assert re.fullmatch(r"token=[A-Za-z0-9_-]{40,}", parts.fragment)
    token = parts.fragment.removeprefix("token=")
    # Only its hash is kept; the mail says how long it works.
    with database.unit_of_work() as uow:
        row = uow.session.exec(select(PerformerSignInLink)).one()
        assert row.token_hash == hash_token(token) and token not in row.model_dump_json()
    assert "15" in body_of(message)

    page = client.get("/me/sign-in/complete")
    assert page.status_code == 200 and "me-sign-in" in page.text and token not in page.text
    used = complete(client, link)
    assert used.status_code == 303 and used.headers["location"] == "/me"
    cookie = next(v for k, v in used.headers.multi_items()
                  if k == "set-cookie" and v.startswith("performer_session="))  # fmt: skip
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/me" in cookie
    assert client.get("/me").status_code == 200

    again = complete(browser(client, "198.51.100.20"), link)
    assert again.status_code == 410 and 'id="error-token"' in again.text


def test_a_link_expires_after_15_minutes(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    anna: dict[str, Any],
) -> None:  # fmt: skip
    ask_link(client, anna["email"])
    ask_link(client, anna["email"])
    first, second = (link_of(m) for m in send_mails(queue, database, settings, clock.now()))
    clock.advance(minutes=14, seconds=59)
    assert complete(client, first).status_code == 303
    clock.advance(seconds=1)
    assert complete(browser(client, "198.51.100.21"), second).status_code == 410
    # A link that expired before the worker got to it is not mailed at all.
    ask_link(client, anna["email"])
    clock.advance(minutes=16)
    assert send_mails(queue, database, settings, clock.now()) == []


def test_the_same_answer_whether_or_not_a_performer_has_the_address(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    anna: dict[str, Any],
) -> None:  # fmt: skip
    known, unknown = ask_link(client, anna["email"]), ask_link(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert _answer(known) == _answer(unknown)
    [message] = send_mails(queue, database, settings, clock.now())
    assert message["To"] == anna["email"]
    # Not an address at all: said beside the field, nothing mailed.
    bad = ask_link(client, "anna")
    assert bad.status_code == 422 and 'id="error-email"' in bad.text
    assert send_mails(queue, database, settings, clock.now()) == []


def test_asking_is_rate_limited_per_address_with_retry_after(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    anna: dict[str, Any],
) -> None:  # fmt: skip
    for _ in range(settings.performer_link_rate_per_email):
        assert ask_link(client, anna["email"]).status_code == 200
    limited = ask_link(client, anna["email"])
    assert limited.status_code == 429 and 0 < int(limited.headers["retry-after"]) <= 3600
    # The same for an address nobody has: no telling the two apart by the limit either.
    for _ in range(settings.performer_link_rate_per_email):
        ask_link(client, "nobody@example.org")
    assert ask_link(client, "nobody@example.org").status_code == 429
    assert len(send_mails(queue, database, settings, clock.now())) == (
        settings.performer_link_rate_per_email
    )
    clock.advance(hours=1)
    assert ask_link(client, anna["email"]).status_code == 200


@pytest.fixture
def strict_client(
    settings: Settings, clock: FixedClock, queue: RecordingQueue
) -> Iterator[TestClient]:
    strict = settings.model_copy(update={"performer_link_rate_per_ip": 3})
    with TestClient(create_app(strict, clock, queue=queue), raise_server_exceptions=False) as c:
        yield c


def test_asking_is_rate_limited_per_client_address(strict_client: TestClient) -> None:
    for n in range(3):
        assert ask_link(strict_client, f"someone{n}@example.org").status_code == 200
    limited = ask_link(strict_client, "someone-else@example.org")
    assert limited.status_code == 429 and "retry-after" in limited.headers
    other = browser(strict_client, "198.51.100.30")
    assert ask_link(other, "someone-else@example.org").status_code == 200


def test_sessions_time_out_and_end_at_sign_out(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    anna: dict[str, Any],
) -> None:  # fmt: skip
    def sign_in(who: TestClient) -> TestClient:
        ask_link(who, anna["email"])
        [message] = send_mails(queue, database, settings, clock.now())
        assert complete(who, link_of(message)).status_code == 303
        return who

    idle = sign_in(browser(client, "198.51.100.40"))
    clock.advance(minutes=settings.performer_session_idle_minutes - 1)
    assert idle.get("/me", follow_redirects=False).status_code == 200
    clock.advance(minutes=settings.performer_session_idle_minutes)
    gone = idle.get("/me", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/me/sign-in"

    busy = sign_in(browser(client, "198.51.100.41"))
    started, absolute = clock.now(), timedelta(hours=settings.performer_session_absolute_hours)
    while busy.get("/me", follow_redirects=False).status_code == 200:
        assert clock.now() - started < absolute  # used every 20 minutes: never idle
        clock.advance(minutes=20)
    assert clock.now() - started >= absolute

    out = sign_in(browser(client, "198.51.100.42"))
    token = csrf(out, "/me")
    assert post(out, "/me/sign-out", {}, token=token).status_code == 303
    assert out.get("/me", follow_redirects=False).status_code == 303
    # A sign-out without the page's token is refused (another site cannot sign one out).
    other = sign_in(browser(client, "198.51.100.43"))
    assert (
        other.post(
            "/me/sign-out", data={"csrf_token": "forged"}, follow_redirects=False
        ).status_code
        == 403
    )
    assert other.get("/me", follow_redirects=False).status_code == 200


def test_spent_links_and_sessions_are_purged_by_retention(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    anna: dict[str, Any],
) -> None:  # fmt: skip
    def rows() -> tuple[int, int]:
        with database.unit_of_work() as uow:
            links = uow.session.exec(select(PerformerSignInLink)).all()
            sessions = uow.session.exec(select(PerformerSession)).all()
            return len(links), len(sessions)

    def retention() -> int:
        with database.unit_of_work() as uow:
            done = apply_retention(uow.session, clock.now(), settings.retention_days)
            return done.performer_sign_ins

    who = browser(client, "198.51.100.50")
    ask_link(who, anna["email"])
    [message] = send_mails(queue, database, settings, clock.now())
    assert complete(who, link_of(message)).status_code == 303  # used: a session
    ask_link(who, anna["email"])  # a second link, never used
    send_mails(queue, database, settings, clock.now())
    assert rows() == (2, 1)
    assert retention() == 1  # the used link goes; the open one and the session stay
    assert rows() == (1, 1)
    clock.advance(minutes=settings.performer_link_minutes)
    assert who.get("/me", follow_redirects=False).status_code == 200  # keeps it alive
    assert retention() == 1 and rows() == (0, 1)  # the expired link goes
    clock.advance(minutes=settings.performer_session_idle_minutes)
    assert retention() == 1 and rows() == (0, 0)  # the idle session goes
    assert retention() == 0
    assert who.get("/me", follow_redirects=False).status_code == 303
