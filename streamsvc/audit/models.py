"""The audit log: who changed money, access or the rules of sharing, and what changed.

Append-only by database rule (migration 0013): triggers refuse every UPDATE and
DELETE, as the ledger's do. People appear by id only; names are resolved when the log
is read, and no e-mail address is ever stored here (audit.record refuses one).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from streamsvc.kit.columns import jsonb, timestamp


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entries"
    # The log is read per venue, newest first, a page at a time.
    __table_args__ = (
        Index("ix_audit_entries_venue_id_created_at", "venue_id", "created_at", "id"),
        Index("ix_audit_entries_object", "object_type", "object_id"),
    )

    id: str = Field(primary_key=True, max_length=32)
    # None for an action of the platform operator that belongs to no venue.
    venue_id: str | None = Field(default=None, foreign_key="venues.id", max_length=32)
    actor_kind: str = Field(max_length=16)  # staff | key | platform | system | buyer
    actor_id: str = Field(max_length=64)
    action: str = Field(max_length=64)  # a dotted noun: order.refunded, tier.price_changed
    object_type: str = Field(max_length=40)
    object_id: str = Field(max_length=64)
    changes: dict[str, Any] = jsonb(default={})  # before/after values; people by id
    request_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = timestamp()
