"""What was done stays done: PostgreSQL refuses to edit or remove an audit entry."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.testclient import TestClient

from tests.factories import make_venue


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET changes = '{}'::jsonb",
        "UPDATE audit_entries SET actor_id = 'someone_else'",
        "DELETE FROM audit_entries",
    ],
)
def test_the_database_refuses_to_change_the_log(
    client: TestClient, engine: Any, statement: str
) -> None:
    make_venue(client)  # its first key's creation is one entry
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_entries")).scalar_one() == 1
        with pytest.raises(DBAPIError) as refused:
            conn.execute(text(statement))
        assert getattr(refused.value.orig, "sqlstate", None) == "42501"
        assert "append-only" in str(refused.value.orig)
        conn.rollback()
        assert conn.execute(text("SELECT count(*) FROM audit_entries")).scalar_one() == 1
