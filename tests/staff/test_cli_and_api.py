"""The first admin: `streamsvc venue create --admin-email` prints their link;
POST /v1/venues with admin_email mails it (never answers it)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.cli import build_parser
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.staff.cli import run_create
from tests.factories import PLATFORM, ok
from tests.staff.helpers import accept, send_mails


def test_the_cli_prints_the_first_admins_one_time_link(
    client: TestClient, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(
        ["venue", "create", "--name", "Paradiso", "--country", "NL", "--currency", "EUR",
         "--timezone", "Europe/Amsterdam", "--admin-email", "Boss@Example.org"]
    )  # fmt: skip
    assert run_create(settings, args) == 0
    printed = capsys.readouterr().out
    match = re.search(r"(\S+/console/invitations/accept#token=\S+)", printed)
    assert match and match.group(1).startswith(settings.public_url)
    assert accept(client, match.group(1)).status_code == 303
    assert "boss@example.org" in client.get("/console/account").text


def test_post_venues_mails_the_link_and_does_not_answer_it(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    body = {"name": "Paradiso", "country": "NL", "currency": "EUR",
            "timezone": "Europe/Amsterdam", "admin_email": "boss@example.org"}  # fmt: skip
    answer = client.post("/v1/venues", json=body, headers=PLATFORM)
    created = ok(answer, 201)
    assert "token" not in answer.text and "invitations" not in answer.text
    assert created["api_key"]["key"].startswith("ssk_")
    assert queue.names() == ["staff.send_invitation"]
    [link] = send_mails(queue, database, settings, clock.now())
    assert accept(client, link).status_code == 303
    # Without admin_email, a venue is made as before, with its key only.
    new_venue_answer = client.post("/v1/venues", json={**body, "name": "Melkweg",
                                                       "admin_email": None}, headers=PLATFORM)  # fmt: skip
    assert new_venue_answer.status_code == 201 and queue.names() == []


def test_an_invalid_admin_email_is_refused(client: TestClient) -> None:
    body = {"name": "Paradiso", "country": "NL", "currency": "EUR",
            "timezone": "Europe/Amsterdam", "admin_email": "not an address"}  # fmt: skip
    assert client.post("/v1/venues", json=body, headers=PLATFORM).status_code == 422
