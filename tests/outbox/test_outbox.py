"""Effects that must not be lost are durable: written to the outbox with the commit that
raised them, applied right after it, and applied again by the relay until they succeed.

Redis refusing connections at the moment a refund commits must not leave a refunded
viewer watching; a broker or mail server failing must not lose, nor double, a mail.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from sqlmodel import select

from config.settings import Settings
from streamsvc.bootstrap import message_bus
from streamsvc.db import Database, make_engine
from streamsvc.embedded import free_port
from streamsvc.orders.fulfilment import MailDeliveryError, mail_tickets
from streamsvc.outbox.bus import FAST_PATH_GRACE
from streamsvc.outbox.models import OutboxMessage
from streamsvc.outbox.relay import relay
from tests.conftest import RecordingQueue
from tests.factories import buy
from tests.mailbox import Mailbox
from tests.orders import scenarios as s
from tests.viewing.conftest import Show
from tests.viewing.test_viewing import _doors_open
from workers.schedule import beat_schedule


def _database(settings: Settings, redis_url: str, enqueue: Any) -> Database:
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=0.5)
    engine = make_engine(settings.require("database_url"), pool_size=2)
    return Database(engine, bus=message_bus(settings, client, enqueue))


@pytest.fixture
def redis_down(settings: Settings, followups: RecordingQueue) -> Iterator[Database]:
    """The database as an API process has it while Redis refuses every connection."""
    database = _database(settings, f"redis://127.0.0.1:{free_port()}/0", followups.enqueue)
    yield database
    database.dispose()


def _pending(database: Database) -> list[OutboxMessage]:
    with database.unit_of_work() as uow:
        query = select(OutboxMessage).where(OutboxMessage.done_at == None)  # noqa: E711
        return list(uow.session.exec(query))


def test_a_revocation_redis_missed_reaches_it_once_redis_is_back(
    show: Show, database: Database, redis_down: Database
) -> None:
    order, [code] = show.paid_tickets("hd")
    _doors_open(show)
    token = show.redeem(code, "tv").json()["token"]
    assert show.authorize(token).status_code == 204

    # The refund commits while Redis refuses connections: the mirror fails after the
    # commit, the refund stands, and the revocation waits in the outbox.
    s.deliver(show.client, s.refund(order, "re_outbox", order["total_amount"]))
    s.drain(redis_down, show.clock)
    [message] = _pending(database)
    assert (message.kind, list(message.payload["statuses"].values())) == (
        "TicketStatusChanged", ["revoked"])  # fmt: skip
    assert show.authorize(token).status_code == 204  # Redis never heard of it

    # The relay leaves a fresh message to the fast path; past that, while Redis is
    # still down, it fails and tries again later. (The outbox stamps its messages with
    # the real time, not the test's fixed clock: beat relays on the real time too.)
    now = datetime.now(UTC)
    assert relay(redis_down, redis_down.bus, now) == 0  # type: ignore[arg-type]
    later = message.next_attempt_at + timedelta(seconds=1)
    assert relay(redis_down, redis_down.bus, later) == 0  # type: ignore[arg-type]
    [message] = _pending(database)
    assert message.attempts == 1 and message.next_attempt_at > later
    assert message.last_error and "Error" in message.last_error

    # Redis is back: the next relay run (beat runs it every few seconds) applies it.
    assert relay(database, database.bus, message.next_attempt_at) == 1  # type: ignore[arg-type]
    refused = show.authorize(token)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "revoked"
    assert _pending(database) == []
    assert relay(database, database.bus, message.next_attempt_at + timedelta(hours=1)) == 0  # type: ignore[arg-type]


def test_beat_runs_the_relay(settings: Settings) -> None:
    entry = beat_schedule(settings)["relay-outbox"]
    assert entry["task"] == "outbox.relay"
    assert entry["schedule"] == settings.outbox_relay_seconds


def test_an_applied_event_is_marked_done_at_once(show: Show, database: Database) -> None:
    """The fast path: with Redis up, nothing is left for the relay."""
    order, _ = show.paid_tickets("hd")
    s.deliver(show.client, s.refund(order, "re_fast", order["total_amount"]))
    show.drain()
    with database.unit_of_work() as uow:
        messages = list(uow.session.exec(select(OutboxMessage)))
    assert {m.kind for m in messages} == {
        "TicketsIssued", "TicketStatusChanged"
    }  # fmt: skip
    assert all(m.done_at is not None and m.attempts == 0 for m in messages)


class FlakyBroker:
    """A queue that refuses its first `failures` sends, as a broker that is down."""

    def __init__(self, failures: int) -> None:
        self.failures, self.sent = failures, RecordingQueue()

    def enqueue(self, name: str, *args: str) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("broker unreachable")
        self.sent.enqueue(name, *args)


def test_the_ticket_mail_is_sent_exactly_once_when_first_attempts_fail(
    show: Show, settings: Settings, mailbox: Mailbox
) -> None:
    broker = FlakyBroker(failures=1)
    flaky = _database(settings, settings.require("redis_url"), broker.enqueue)
    try:
        # Paid while the broker is down: the mail job waits in the outbox.
        order = buy(
            show.client, show.event["id"], show.tiers["hd"]["id"], email="second@example.org"
        )
        s.deliver(show.client, s.succeeded(order))
        s.drain(flaky, show.clock)
        assert broker.sent.sent == [] and len(_pending(flaky)) == 1
        due = datetime.now(UTC) + FAST_PATH_GRACE  # the outbox's time is the real one
        assert relay(flaky, flaky.bus, due) == 1  # type: ignore[arg-type]
        assert broker.sent.sent == [("orders.send_tickets", (order["id"],))]
    finally:
        flaky.dispose()

    # The mail server is down for the first attempt: nothing is marked, nothing sent.
    down = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": free_port()})
    with pytest.raises(MailDeliveryError):
        mail_tickets(show.database, down, order["id"], show.clock.now())
    # Then the task and a stray duplicate run at once: one mail.
    up = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": mailbox.port})
    before = len(mailbox.received)
    results: list[bool] = []
    runs = [threading.Thread(target=lambda: results.append(
        mail_tickets(show.database, up, order["id"], show.clock.now()))) for _ in range(2)]  # fmt: skip
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=30)
    assert sorted(results) == [False, True]
    assert [m.rcpt_tos for m in mailbox.received[before:]] == [["second@example.org"]]
    assert mail_tickets(show.database, up, order["id"], show.clock.now()) is False
