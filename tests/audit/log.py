"""Reading the audit log as stored, for tests: what each action appended."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from starlette.testclient import TestClient

from streamsvc.audit.models import AuditEntry
from streamsvc.db import Database
from tests.factories import VenueHandle, ok


def stored(database: Database) -> list[AuditEntry]:
    """Every entry, oldest first."""
    with database.unit_of_work() as uow:
        rows = uow.session.exec(select(AuditEntry).order_by(col(AuditEntry.created_at)))
        return [AuditEntry.model_validate(row.model_dump()) for row in rows]


class Log:
    """The entries appended since the last look."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.seen = {entry.id for entry in stored(database)}

    def new(self) -> list[AuditEntry]:
        fresh = [entry for entry in stored(self.database) if entry.id not in self.seen]
        self.seen |= {entry.id for entry in fresh}
        return fresh

    def one(self) -> AuditEntry:
        """The single entry the last action appended (fails on none or several)."""
        fresh = self.new()
        assert len(fresh) == 1, [(e.action, e.object_id) for e in fresh]
        return fresh[0]


def admin_key_id(client: TestClient, venue: VenueHandle) -> str:
    """The id of the venue's first admin key (the one `venue.headers` carries)."""
    keys = ok(client.get("/v1/api-keys", headers=venue.headers))["data"]
    found: str = next(k["id"] for k in keys if k["label"] == "first admin")
    return found


def actor(entry: AuditEntry) -> tuple[str, str]:
    return entry.actor_kind, entry.actor_id


def described(entry: AuditEntry) -> tuple[str, str, str, dict[str, Any]]:
    return entry.action, entry.object_type, entry.object_id, entry.changes
