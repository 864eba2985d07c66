"""Database engine and the unit of work: the one place that commits or rolls back.

Services receive a `UnitOfWork` (or its `session`) and never commit. The request
boundary and the worker base task open one, run the service, then commit. What must
happen once the data is durable is a typed domain event the service raises with
`uow.emit(...)` (or `emit(session, ...)`): the session collects them, the bus writes
the durable ones to the outbox in the same transaction, and after the commit runs
their handlers (streamsvc/outbox/bus.py). `uow.after_commit(...)` remains for a
request's own follow-ups that may be lost (a task a safety net would redo).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import Engine, create_engine, text
from sqlalchemy import event as sa_event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.expression import Executable
from sqlmodel import Session

from streamsvc.kit.events import DomainEvent

log = logging.getLogger(__name__)
_COMMIT_WITHOUT_WAITING = text("SET LOCAL synchronous_commit = off")
PING_AFTER_IDLE_SECONDS = 5.0  # a pooled connection unused this long is tested first
_IDLE_SINCE = "streamsvc_idle_since"


def normalise_url(url: str) -> str:
    """Use psycopg 3 whatever PostgreSQL URL spelling we are given."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def make_engine(
    url: str, *, pool_size: int = 10, ping_after_idle: float = PING_AFTER_IDLE_SECONDS
) -> Engine:
    """Build an engine; it connects lazily, on first use."""
    engine = create_engine(
        normalise_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5},
        # A database error's text would otherwise carry the statement's values (a
        # ticket code on insert) into tracebacks and Celery's failure lines.
        hide_parameters=True,
    )
    _ping_when_idle(engine, ping_after_idle)
    return engine


def _ping_when_idle(engine: Engine, seconds: float) -> None:
    """SQLAlchemy's pool_pre_ping, but only for a connection that lay in the pool for
    `seconds` or more: one round trip less for every transaction of a busy process (a
    purchase has two), while a connection that idled long enough to be cut (a
    firewall, PostgreSQL's idle timeout, a restart overnight) is still tested, and
    replaced, before a request gets it. A connection PostgreSQL dropped a moment after
    its last use fails its next statement instead; SQLAlchemy then discards the whole
    pool, so that one request (per process) is the cost of a database restart."""

    def checked_in(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None or time.monotonic() - idle_since < seconds:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("a pooled connection was found closed") from exc

    sa_event.listen(engine, "checkin", checked_in)
    sa_event.listen(engine, "checkout", checked_out)


class EventSession(Session):
    """A session that collects the domain events raised in its transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[DomainEvent] = []


def emit(session: Session, event: DomainEvent) -> None:
    """Raise `event` in the transaction of `session`: handled after its commit, and
    not at all if it rolls back. Refuses a session that cannot collect events, so no
    effect is dropped in silence."""
    if not isinstance(session, EventSession):
        raise TypeError(f"{type(event).__name__} raised on a session without a unit of work")
    session.events.append(event)


class EventBus(Protocol):
    """What the unit of work needs of the message bus (streamsvc/outbox/bus.py)."""

    def stage(self, session: Session, events: Sequence[DomainEvent]) -> Any:
        """Before the commit: write the durable events to the outbox."""
        ...

    def dispatch(self, engine: Engine, staged: Any) -> None:
        """After the commit: run the handlers; never raises."""
        ...


class UnitOfWork:
    """One session and the callbacks to run once it has committed."""

    def __init__(self, session: EventSession) -> None:
        self.session = session
        self._after_commit: list[Callable[[], None]] = []

    def emit(self, event: DomainEvent) -> None:
        emit(self.session, event)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def commit_without_waiting_for_disk(self) -> None:
        """Let this transaction's commit return before the WAL reaches the disk
        (PostgreSQL's synchronous_commit off, for this transaction only): the commit is
        as atomic, but a crash of PostgreSQL itself may lose it, within a fraction of a
        second. Only for a write that something else restores when it is lost (the
        answer remembered for an idempotency key: the retry resumes the durable draft);
        each spares a request one wait for the disk."""
        self.session.execute(_COMMIT_WITHOUT_WAITING)

    def _run_after_commit(self) -> None:
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                # The data is committed; a failed follow-up must not turn the
                # response into an error. Safety-net tasks pick up what is missed.
                log.exception("after-commit callback failed")


class Database:
    """The engine and a factory of units of work. `bus` stages the events raised in a
    unit of work with its commit and handles them after it; without one (a tool, a
    test of a single service) events are dropped, said in the log."""

    def __init__(self, engine: Engine, bus: EventBus | None = None) -> None:
        self.engine = engine
        self.bus = bus
        self._sessions = sessionmaker(engine, class_=EventSession, expire_on_commit=False)

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """Commit when the block succeeds, roll back when it raises."""
        uow = UnitOfWork(self._sessions())
        staged: Any = None
        try:
            yield uow
            # Flush first: a flush may raise events of its own (the catalogue cache's
            # watcher raises one when the catalogue is written), and they must be
            # collected with the rest, not lost in the commit's implicit flush.
            uow.session.flush()
            events = uow.session.events
            if events and self.bus is not None:
                staged = self.bus.stage(uow.session, events)
            elif events:
                log.warning("no message bus: %d domain events not handled", len(events))
            uow.session.commit()
        except BaseException:
            uow.session.rollback()
            raise
        finally:
            uow.session.close()
        if staged is not None and self.bus is not None:
            self.bus.dispatch(self.engine, staged)
        uow._run_after_commit()

    def execute_at_once(self, statement: Executable) -> int:
        """Run one write in a transaction of its own that PostgreSQL commits as it runs
        (autocommit): one round trip, where a unit of work takes three (BEGIN, the
        statement, COMMIT). Only for a write that stands alone: it raises no events and
        has nothing to do after its commit. The number of rows it changed."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            changed: int = conn.execute(statement).rowcount
        return changed

    def dispose(self) -> None:
        self.engine.dispose()
