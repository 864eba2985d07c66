"""Database engine and the unit of work: the one place that commits or rolls back.

Services receive a `UnitOfWork` (or its `session`) and never commit. The request
boundary and the worker base task open one, run the service, then commit; work that
must only happen once the data is durable (enqueueing a task, say) is registered
with `uow.after_commit(...)` and runs after the commit succeeded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

log = logging.getLogger(__name__)


def normalise_url(url: str) -> str:
    """Use psycopg 3 whatever PostgreSQL URL spelling we are given."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Build an engine; it connects lazily, on first use."""
    return create_engine(
        normalise_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5},
    )


class UnitOfWork:
    """One session and the callbacks to run once it has committed."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def _run_after_commit(self) -> None:
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                # The data is committed; a failed follow-up must not turn the
                # response into an error. Safety-net tasks pick up what is missed.
                log.exception("after-commit callback failed")


CommitHook = Callable[[dict[str, Any]], None]


class Database:
    """The engine and a factory of units of work.

    `hooks` run after every commit with what the services noted in `session.info`
    (e.g. ticket status changes, which viewing mirrors in Redis at once).
    """

    def __init__(self, engine: Engine, hooks: list[CommitHook] | None = None) -> None:
        self.engine = engine
        self.hooks = list(hooks or [])
        self._sessions = sessionmaker(engine, class_=Session, expire_on_commit=False)

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """Commit when the block succeeds, roll back when it raises."""
        uow = UnitOfWork(self._sessions())
        try:
            yield uow
            uow.session.commit()
            noted = dict(uow.session.info)
        except BaseException:
            uow.session.rollback()
            raise
        finally:
            uow.session.close()
        for hook in self.hooks:
            try:
                hook(noted)
            except Exception:
                log.exception("after-commit hook failed")
        uow._run_after_commit()

    def dispose(self) -> None:
        self.engine.dispose()
