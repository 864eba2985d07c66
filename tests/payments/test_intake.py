"""The webhook intake: concurrent deliveries stored with one commit, each answered only
after it; exactly one delivery of an event answered new; the events of a commit sent
to the worker in one message, or, should that fail, by the inbox sweep."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from sqlalchemy.exc import DataError
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.bootstrap import message_bus
from streamsvc.db import Database, make_engine
from streamsvc.orders import webhooks
from streamsvc.outbox.models import OutboxMessage
from streamsvc.payments import inbox
from streamsvc.payments.intake import WebhookIntake
from streamsvc.payments.models import StripeEvent
from tests.conftest import RecordingQueue
from tests.harness import TEST_WEBHOOK_SECRET
from tests.stripe_helpers import event, signed_webhook, stripe_object
from workers.tasks.payments import SWEEP_GRACE, send_waiting

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TASK = "payments.process_stripe_event"


def _paid(intent_id: str | None = None) -> dict[str, Any]:
    """A payment_intent.succeeded of no order of ours: processed, nothing else happens."""
    intent = stripe_object("payment_intent", id=intent_id or "pi_intake", status="succeeded",
                           metadata={})  # fmt: skip
    return event("payment_intent.succeeded", intent)


def _ignored() -> dict[str, Any]:
    return event("charge.updated", stripe_object("charge", id="ch_intake"))


def _receive_together(intake: WebhookIntake, rows: list[dict[str, Any]]) -> list[Any]:
    """Every row handed to the intake at once, as concurrent requests do."""

    async def together() -> list[Any]:
        calls = [intake.receive(row) for row in rows]
        return await asyncio.gather(*calls, return_exceptions=True)

    return asyncio.run(together())


def _stored(database: Database) -> dict[str, str]:
    with database.unit_of_work() as uow:
        return {row.id: row.status for row in uow.session.exec(select(StripeEvent))}


def _outbox(database: Database) -> list[str]:
    with database.unit_of_work() as uow:
        return [message.kind for message in uow.session.exec(select(OutboxMessage))]


def test_one_commit_stores_them_and_one_message_sends_those_to_process(
    database: Database, followups: RecordingQueue
) -> None:
    a, b, ignored = _paid("pi_a"), _paid("pi_b"), _ignored()
    rows = [inbox.inbox_row(e, T0) for e in (a, b, a, ignored, a)]
    # The same event three times among concurrent deliveries: new once, the first.
    assert _receive_together(WebhookIntake(database), rows) == [True, True, False, True, False]
    assert _stored(database) == {a["id"]: "received", b["id"]: "received",
                                 ignored["id"]: "ignored"}  # fmt: skip
    # One message for the commit, each event to process in it once; and no outbox row:
    # the inbox is its own (the sweep below).
    assert followups.sent == [(TASK, (a["id"], b["id"]))]
    assert _outbox(database) == []
    # Delivered again later: a duplicate, and nothing sent.
    again = [inbox.inbox_row(e, T0) for e in (b, a)]
    assert _receive_together(WebhookIntake(database), again) == [False, False]
    assert len(followups.sent) == 1


def test_a_row_postgresql_refuses_fails_alone(
    database: Database, followups: RecordingQueue
) -> None:
    good, other, bad = _paid("pi_good"), _paid("pi_other"), _paid("pi_bad")
    refused = inbox.inbox_row(bad, T0)
    refused["created"] = 2**70  # past check_event, as a value it missed would be
    rows = [inbox.inbox_row(good, T0), refused, inbox.inbox_row(other, T0)]
    first, failure, last = _receive_together(WebhookIntake(database), rows)
    assert (first, last) == (True, True) and isinstance(failure, DataError)
    assert _stored(database) == {good["id"]: "received", other["id"]: "received"}
    assert sorted(i for _, ids in followups.sent for i in ids) == sorted([good["id"], other["id"]])


class DownBroker:
    """A queue whose broker refuses every send until it is back."""

    def __init__(self) -> None:
        self.up, self.sent = False, RecordingQueue()

    def enqueue(self, name: str, *args: str) -> None:
        if not self.up:
            raise ConnectionError("broker unreachable")
        self.sent.enqueue(name, *args)


@pytest.fixture
def broker() -> DownBroker:
    return DownBroker()


@pytest.fixture
def broker_down(settings: Settings, broker: DownBroker) -> Iterator[Database]:
    """The database as an API process has it while its broker refuses every send."""
    mirror = redis.Redis.from_url(settings.require("redis_url"))
    database = Database(make_engine(settings.require("database_url"), pool_size=2),
                        bus=message_bus(settings, mirror, broker.enqueue))  # fmt: skip
    yield database
    database.dispose()
    mirror.close()


def test_an_event_whose_message_failed_is_sent_by_the_sweep(
    broker_down: Database, broker: DownBroker, caplog: pytest.LogCaptureFixture
) -> None:
    paid = _paid("pi_swept")
    # Stored, committed and answered (new) although the broker refused its message...
    assert _receive_together(WebhookIntake(broker_down), [inbox.inbox_row(paid, T0)]) == [True]
    assert broker.sent.sent == [] and _outbox(broker_down) == []
    assert _stored(broker_down) == {paid["id"]: "received"}
    # ...said as an outage, not as a loss.
    assert not [r for r in caplog.records if "lost" in r.getMessage()]
    assert [r for r in caplog.records if "payments.sweep_inbox" in r.getMessage()]

    # The sweep (beat) leaves it to its own message for a while, then sends it.
    broker.up = True
    assert send_waiting(broker_down, broker.enqueue, T0 + SWEEP_GRACE) == 0
    later = T0 + SWEEP_GRACE + timedelta(seconds=1)
    assert send_waiting(broker_down, broker.enqueue, later) == 1
    assert broker.sent.sent == [(TASK, (paid["id"],))]
    with broker_down.unit_of_work() as uow:
        assert webhooks.process(uow, paid["id"], later) == "processed"
    # Processed: the next sweep finds nothing.
    assert send_waiting(broker_down, broker.enqueue, later + timedelta(hours=1)) == 0


def test_the_sweep_sends_the_oldest_first(database: Database, followups: RecordingQueue) -> None:
    events = [_paid(f"pi_{n}") for n in range(3)]
    with database.unit_of_work() as uow:  # stored by an API whose messages were lost
        for n, evt in enumerate(reversed(events)):
            inbox.store(uow.session, [inbox.inbox_row(evt, T0 - timedelta(seconds=n))])
    sent = RecordingQueue()
    assert send_waiting(database, sent.enqueue, T0 + SWEEP_GRACE + timedelta(seconds=1)) == 3
    assert sent.sent == [(TASK, tuple(e["id"] for e in events))]


def _post_all(client: TestClient, events: list[dict[str, Any]]) -> list[Any]:
    """Every event POSTed at once, each from its own thread."""
    start = threading.Barrier(len(events))
    answers: list[Any] = [None] * len(events)

    def post(index: int) -> None:
        body, headers = signed_webhook(events[index], TEST_WEBHOOK_SECRET)
        start.wait()
        answers[index] = client.post("/v1/stripe/webhook", content=body, headers=headers)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_concurrent_deliveries_are_answered_new_once_and_a_malformed_one_alone(
    client: TestClient, database: Database, queue: RecordingQueue
) -> None:
    paid, other = _paid("pi_twice"), _paid("pi_once")
    malformed = {**_paid("pi_malformed"), "created": "yesterday"}
    deliveries = [paid, other, paid, malformed, paid, paid]
    answers = _post_all(client, deliveries)
    assert answers[3].status_code == 400
    assert answers[3].json()["error"]["code"] == "invalid_event"
    taken = [(e, a) for e, a in zip(deliveries, answers, strict=True) if e is not malformed]
    assert [a.status_code for _, a in taken] == [200] * 5
    acks = [(e["id"], a.json()) for e, a in taken]
    new = [event_id for event_id, ack in acks if not ack["duplicate"]]
    assert sorted(new) == sorted([paid["id"], other["id"]])  # each new exactly once
    assert _stored(database) == {paid["id"]: "received", other["id"]: "received"}
    sent = [i for name, ids in queue.sent if name == TASK for i in ids]
    assert sorted(sent) == sorted([paid["id"], other["id"]])  # each sent to the worker once
