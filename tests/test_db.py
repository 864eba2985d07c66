"""The engine's pool (a connection idle for a while is tested before use, one used a
moment ago is not) and the unit of work that commits without waiting for the disk."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from config.settings import Settings
from streamsvc.db import Database, make_engine

BACKEND = text("SELECT pg_backend_pid()")


@pytest.fixture
def admin(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.require("database_url"), pool_size=1)
    yield engine
    engine.dispose()


def _pooled_backend(engine: Engine) -> int:
    with engine.connect() as conn:
        pid: int = conn.execute(BACKEND).scalar_one()
    return pid


def _cut(admin: Engine, pid: int) -> None:
    """PostgreSQL ends the backend, as a restart or an idle timeout would."""
    with admin.begin() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar_one()


def test_a_connection_cut_while_idle_is_replaced_before_a_request_gets_it(
    settings: Settings, admin: Engine
) -> None:
    engine = make_engine(settings.require("database_url"), pool_size=1, ping_after_idle=0)
    try:
        first = _pooled_backend(engine)
        _cut(admin, first)
        assert _pooled_backend(engine) != first  # no error: the ping found it closed
    finally:
        engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged(settings: Settings, admin: Engine) -> None:
    engine = make_engine(settings.require("database_url"), pool_size=1, ping_after_idle=60)
    try:
        first = _pooled_backend(engine)
        _cut(admin, first)
        # No ping (the round trip every transaction saves): the statement finds it closed,
        # and SQLAlchemy discards the pool, so the next one has a fresh connection.
        with pytest.raises(OperationalError):
            _pooled_backend(engine)
        assert _pooled_backend(engine) != first
    finally:
        engine.dispose()


def test_a_unit_of_work_may_commit_without_waiting_for_the_disk(settings: Settings) -> None:
    database = Database(make_engine(settings.require("database_url"), pool_size=1))
    show = text("SHOW synchronous_commit")
    try:
        with database.unit_of_work() as uow:
            uow.commit_without_waiting_for_disk()
            assert uow.session.execute(show).scalar_one() == "off"
        with database.unit_of_work() as uow:  # the same pooled connection: for one only
            assert uow.session.execute(show).scalar_one() == "on"
    finally:
        database.dispose()
