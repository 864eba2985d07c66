"""The outbox: durable domain events, written in the transaction that raised them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from streamsvc.kit.columns import jsonb, timestamp


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_messages"
    # The relay's question, "what is pending and due", stays an index scan however
    # many messages were applied before.
    __table_args__ = (
        Index("outbox_due", "next_attempt_at", postgresql_where=text("done_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=80)  # the event's class name
    payload: dict[str, Any] = jsonb()
    created_at: datetime = timestamp()
    attempts: int = 0
    # Pending while done_at is null; the relay takes it again from next_attempt_at on.
    next_attempt_at: datetime = timestamp()
    done_at: datetime | None = timestamp(nullable=True)
    last_error: str | None = Field(default=None, max_length=2000)
