"""`/me` test helpers: a venue's performers paid by splits, their mails, signing in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.kit.clock import FixedClock
from streamsvc.me import mail
from tests.factories import ok
from tests.finance.world import World, build
from tests.staff.helpers import CapturingSender

NOVEMBER = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_LINK = re.compile(r"(https?://\S+)")


@dataclass
class Performer:
    id: str
    name: str
    email: str
    venue_id: str


def csrf(client: TestClient, path: str = "/me/sign-in") -> str:
    page = client.get(path)
    match = _CSRF.search(page.text)
    assert match, page.text[:500]
    return match.group(1)


def post(client: TestClient, path: str, data: dict[str, str], *, token: str | None = None,
         **kwargs: Any) -> Any:  # fmt: skip
    fields = {"csrf_token": token if token is not None else csrf(client), **data}
    return client.post(path, data=fields, follow_redirects=False, **kwargs)


def paid_world(client: TestClient, database: Database, clock: FixedClock,
               emails: tuple[str, str] = ("anna@example.org", "bea@example.org"),
               **over: Any) -> tuple[World, list[Performer]]:  # fmt: skip
    """A venue's event with two performers (these addresses), paid orders and a split
    posted in November."""
    world = build(client, database, clock, tiers=[(4500, 900, 500), (1950, 2100, None)],
                  platform_fee_bps=500, costs=[2000], shares=[4000, 3500, 2500], **over)  # fmt: skip
    performers = []
    for party, email in zip(world.parties[1:], emails, strict=True):
        url = f"/v1/performers/{party['id']}"
        ok(client.patch(url, json={"email": email}, headers=world.venue.headers))
        performers.append(Performer(party["id"], party["name"], email, world.venue.id))
    for lines in ([(0, 2)], [(1, 1)], [(0, 1), (1, 3)]):
        world.buy(lines)
    reconcile_event(database, world.books, world.event["id"], NOVEMBER, period="2026-11")
    return world, performers


def payable(database: Database, performer: Performer) -> int:
    """What the ledger's payable account of the performer holds (owed: positive)."""
    with database.engine.connect() as conn:
        return -int(conn.execute(text(
            "SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e "
            "JOIN ledger_accounts a ON a.id = e.account_id "
            "WHERE a.venue_id = :v AND a.party_type = 'performer' AND a.party_id = :p"
        ), {"v": performer.venue_id, "p": performer.id}).scalar_one())  # fmt: skip


def send_mails(
    queue: Any, database: Database, settings: Settings, now: datetime
) -> list[EmailMessage]:
    """Run the `/me` mail tasks the requests enqueued, as the worker would."""
    sender = CapturingSender()
    for name, args in queue.sent:
        if name == "me.send_sign_in_link":
            mail.send_sign_in_link(database, settings, sender, args[0], now)
        elif name == "me.send_details_changed":
            mail.send_details_changed(database, settings, sender, args[0], now)
    queue.sent.clear()
    return sender.messages


def body_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    content: str = part.get_content()
    return content


def link_of(message: EmailMessage) -> str:
    match = _LINK.search(body_of(message))
    assert match, body_of(message)
    return match.group(1)


def ask_link(client: TestClient, email: str) -> Any:
    return post(client, "/me/sign-in", {"email": email})


def complete(client: TestClient, link: str) -> Any:
    token = link.split("#token=", 1)[1]
    return post(client, "/me/sign-in/complete", {"token": token},
                token=csrf(client, "/me/sign-in/complete"))  # fmt: skip


def signed_in(client: TestClient, queue: Any, database: Database, settings: Settings,
              clock: FixedClock, email: str) -> TestClient:  # fmt: skip
    """`client` signed in on /me as the person with this address."""
    assert ask_link(client, email).status_code == 200
    [message] = send_mails(queue, database, settings, clock.now())
    answer = complete(client, link_of(message))
    assert answer.status_code == 303 and answer.headers["location"] == "/me", answer.text
    return client
