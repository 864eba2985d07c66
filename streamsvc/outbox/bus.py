"""Typed domain events and the bus that hands them to their handlers.

A service raises an event with `uow.emit(event)` (or `emit(session, event)` where
it holds only the session). The unit of work collects the events; after the commit
the bus runs each event's handlers. An event class with `durable = True` is also
written to the outbox in the same transaction: should its handlers fail (Redis or
the broker unreachable at that moment), the relay (`outbox.relay`, on beat) applies
it again until they succeed. Handlers of durable events are therefore idempotent.
A kind the bus is told is `swept` needs no outbox row: the rows it was raised for
say themselves what is left to do (the webhook inbox's `received` events), and a
periodic sweep of them does it.

The handlers are registered in one place, `streamsvc.bootstrap`, for the API and
the worker alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine, text, update
from sqlmodel import Session, col

from streamsvc.kit.events import DomainEvent
from streamsvc.kit.outage import Outage
from streamsvc.outbox.models import OutboxMessage

log = logging.getLogger(__name__)
# The relay leaves a new message to the fast path (the handlers run right after the
# commit) for this long before it takes it itself.
FAST_PATH_GRACE = timedelta(seconds=5)
Staged = list[tuple[DomainEvent, OutboxMessage | None]]

E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[Any], None]


class MessageBus:
    """Handlers by event class; `handle` runs every handler of an event."""

    def __init__(self) -> None:
        self._handlers: dict[type[DomainEvent], list[Handler]] = {}
        # The fast path failing (the broker or Redis unreachable) is said once per
        # outage and kind of event, not once per request: what failed waits in the
        # outbox meanwhile. By kind, since kinds depend on different things.
        self._outages: dict[type[DomainEvent], Outage] = {}
        # Kinds that are not durable yet not lost: what redoes their work (`swept`).
        self._sweeps: dict[type[DomainEvent], str] = {}

    def outage(self, kind: type[DomainEvent]) -> Outage:
        """How the fast path fares with the handlers of `kind`."""
        found = self._outages.get(kind)
        if found is None:  # setdefault: two threads failing at once share one
            sweep = self._sweeps.get(kind)
            found = self._outages.setdefault(kind, Outage(
                f"the handlers of {kind.__name__} (broker or Redis)", log,
                f"{sweep} does their work later" if sweep else
                "these events wait in the outbox until the relay applies them",
            ))  # fmt: skip
        return found

    def swept(self, kind: type[DomainEvent], by: str) -> None:
        """`kind` is not durable, yet not lost when its handlers fail: `by`, a periodic
        sweep of the rows it was raised for, does its work later. Such a failure is an
        outage, said once, not a loss; and no outbox row is written, nor marked done."""
        self._sweeps[kind] = by

    def register(self, kind: type[E], handler: Callable[[E], None]) -> None:
        self._handlers.setdefault(kind, []).append(handler)

    def handle(self, event: DomainEvent) -> None:
        """Run every handler; raise the first failure after trying them all (the event
        then stays pending in the outbox, and every handler runs again: idempotent)."""
        failure: Exception | None = None
        for handler in self._handlers.get(type(event), []):
            try:
                handler(event)
            except Exception as exc:
                # Said by the caller (the relay per message, the fast path per outage).
                log.debug("%s handler %r failed: %s", type(event).__name__, handler, exc)
                failure = failure or exc
        if failure is not None:
            raise failure

    def stage(self, session: Session, events: Sequence[DomainEvent]) -> Staged:
        """Before the commit: write each durable event to the outbox, in this transaction."""
        staged: Staged = []
        now = datetime.now(UTC)
        for event in events:
            message = None
            if event.durable:
                message = OutboxMessage(
                    kind=type(event).__name__, payload=event.payload(), created_at=now,
                    next_attempt_at=now + FAST_PATH_GRACE,
                )  # fmt: skip
                session.add(message)
            staged.append((event, message))
        if any(message is not None for _, message in staged):
            session.flush()
        return staged

    def dispatch(self, engine: Engine, staged: Staged) -> None:
        """After the commit, the fast path: run the handlers; a durable event whose
        handlers all succeeded is marked done, one that failed stays for the relay."""
        done: list[int] = []
        for event, message in staged:
            try:
                self.handle(event)
            except Exception as exc:
                if message is None and type(event) not in self._sweeps:
                    log.exception("%s lost: its handlers failed", type(event).__name__)
                else:
                    self.outage(type(event)).began(exc)
                continue
            outage = self._outages.get(type(event))
            if outage is not None and outage.down:
                outage.over()
            if message is not None and message.id is not None:
                done.append(message.id)
        if done:
            try:
                with engine.begin() as conn:
                    # Not waited for on disk: should a crash lose this mark, the relay
                    # applies the messages once more (idempotent), and every webhook,
                    # order and refund request is spared a second flush of the WAL.
                    conn.execute(text("SET LOCAL synchronous_commit = off"))
                    conn.execute(
                        update(OutboxMessage)
                        .where(col(OutboxMessage.id).in_(done))
                        .values(done_at=datetime.now(UTC))
                    )
            except Exception:
                # Applied but not marked: the relay applies them once more (idempotent).
                log.exception("outbox messages %s applied but not marked done", done)
