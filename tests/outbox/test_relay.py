"""The relay on its own: which messages it takes, in what order, how many, and how it
reschedules a failure. With a bus of test events whose handler records or fails."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from config.settings import Settings
from streamsvc.db import Database, make_engine
from streamsvc.kit.events import DomainEvent
from streamsvc.outbox.bus import FAST_PATH_GRACE, MessageBus
from streamsvc.outbox.models import OutboxMessage
from streamsvc.outbox.relay import MAX_DELAY, relay, retry_delay

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

# mutant streamsvc.outbox.relay.x_retry_delay__mutmut_12: `min(attempts, 11)` for
#   `min(attempts, 10)`: 2**10 s is past MAX_DELAY already, so both cap at ten minutes;
#   the bound only keeps the power small for a message that failed a thousand times.


@dataclass(frozen=True)
class Noted(DomainEvent):
    durable: ClassVar[bool] = True
    n: int


class Handler:
    def __init__(self) -> None:
        self.seen: list[int] = []
        self.failing: set[int] = set()

    def __call__(self, event: Noted) -> None:
        if event.n in self.failing:
            raise ConnectionError(f"handler of {event.n} is down")
        self.seen.append(event.n)


@pytest.fixture
def handler() -> Handler:
    return Handler()


@pytest.fixture
def database(settings: Settings, handler: Handler) -> Iterator[Database]:
    bus = MessageBus()
    bus.register(Noted, handler)
    database = Database(make_engine(settings.require("database_url"), pool_size=4), bus=bus)
    yield database
    database.dispose()


def _raise(database: Database, *numbers: int) -> None:
    """Messages written as a unit of work writes them, their handlers failing at first."""
    with database.unit_of_work() as uow:
        for n in numbers:
            uow.emit(Noted(n))


def _messages(database: Database) -> list[OutboxMessage]:
    with database.unit_of_work() as uow:
        return list(uow.session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


def _bus(database: Database) -> MessageBus:
    assert isinstance(database.bus, MessageBus)
    return database.bus


def test_the_delay_doubles_up_to_ten_minutes() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 9)] == [2, 4, 8, 512]
    assert retry_delay(10) == retry_delay(50) == MAX_DELAY == timedelta(minutes=10)


def test_the_fast_path_applies_and_marks_done(database: Database, handler: Handler) -> None:
    _raise(database, 1, 2)
    assert handler.seen == [1, 2]
    assert all(m.done_at is not None for m in _messages(database))
    assert relay(database, _bus(database), datetime.now(UTC) + timedelta(days=1)) == 0


def test_a_failure_is_retried_later_and_counted(database: Database, handler: Handler) -> None:
    handler.failing = {1}
    _raise(database, 1)
    [message] = _messages(database)
    assert (message.done_at, message.attempts) == (None, 0)
    due = message.next_attempt_at
    assert due - message.created_at == FAST_PATH_GRACE
    assert relay(database, _bus(database), due - timedelta(seconds=1)) == 0  # not yet due
    assert relay(database, _bus(database), due) == 0
    [message] = _messages(database)
    assert (message.attempts, message.next_attempt_at) == (1, due + timedelta(seconds=2))
    assert message.last_error == "ConnectionError: handler of 1 is down"
    later = message.next_attempt_at
    assert relay(database, _bus(database), later) == 0
    [message] = _messages(database)
    assert (message.attempts, message.next_attempt_at) == (2, later + timedelta(seconds=4))
    handler.failing.clear()
    assert relay(database, _bus(database), message.next_attempt_at) == 1
    [message] = _messages(database)
    assert message.done_at == message.next_attempt_at and handler.seen == [1]


def test_a_batch_is_the_oldest_due_messages_in_order(database: Database, handler: Handler) -> None:
    handler.failing = {1, 2, 3, 4, 5}
    _raise(database, 1, 2, 3, 4, 5)
    handler.failing.clear()
    due = max(m.next_attempt_at for m in _messages(database))
    assert relay(database, _bus(database), due, batch=2) == 2
    assert handler.seen == [1, 2]
    assert relay(database, _bus(database), due, batch=10) == 3
    assert handler.seen == [1, 2, 3, 4, 5]


def test_two_relays_never_take_the_same_message(database: Database, handler: Handler) -> None:
    handler.failing = {1, 2}
    _raise(database, 1, 2)
    handler.failing.clear()
    first, second = _messages(database)
    due = second.next_attempt_at
    # Another relay holds the first message: this one skips it instead of waiting.
    with database.engine.connect() as other:
        other.execute(text("BEGIN"))
        other.execute(text("SELECT 1 FROM outbox_messages WHERE id = :id FOR UPDATE"),
                      {"id": first.id})  # fmt: skip
        result: list[int] = []
        run = threading.Thread(target=lambda: result.append(relay(database, _bus(database), due)))
        run.start()
        run.join(timeout=10)
        blocked = run.is_alive()
        other.execute(text("ROLLBACK"))
        run.join(timeout=10)
    assert not blocked, "the relay waited for a message another relay holds"
    assert result == [1] and handler.seen == [2]
