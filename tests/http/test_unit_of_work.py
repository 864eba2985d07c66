"""The unit of work commits on success, rolls back on error, and defers follow-ups."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from config.settings import Settings
from streamsvc.db import Database, make_engine


@pytest.fixture
def database(settings: Settings) -> Any:
    database = Database(make_engine(settings.require("database_url"), pool_size=1))
    yield database
    database.dispose()


def _count(database: Database) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM uow_probe")).scalar_one())


@pytest.fixture
def probe_table(database: Database) -> Any:
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS uow_probe (v int)"))
        conn.execute(text("TRUNCATE uow_probe"))
    yield
    with database.engine.begin() as conn:
        conn.execute(text("DROP TABLE uow_probe"))


def test_commits_then_runs_after_commit_callbacks(database: Database, probe_table: None) -> None:
    seen: list[int] = []
    with database.unit_of_work() as uow:
        uow.session.execute(text("INSERT INTO uow_probe VALUES (1)"))
        uow.after_commit(lambda: seen.append(_count(database)))
        assert seen == []  # nothing runs before the commit
    assert seen == [1]  # and the callback saw the committed row


def test_rolls_back_and_skips_callbacks_on_error(database: Database, probe_table: None) -> None:
    seen: list[str] = []
    with pytest.raises(ValueError), database.unit_of_work() as uow:
        uow.session.execute(text("INSERT INTO uow_probe VALUES (1)"))
        uow.after_commit(lambda: seen.append("ran"))
        raise ValueError("service failed")
    assert _count(database) == 0
    assert seen == []


def test_failing_callback_does_not_undo_the_commit(database: Database, probe_table: None) -> None:
    def boom() -> None:
        raise RuntimeError("broker down")

    with database.unit_of_work() as uow:
        uow.session.execute(text("INSERT INTO uow_probe VALUES (1)"))
        uow.after_commit(boom)
    assert _count(database) == 1
