"""What stays of an event's audience once Redis forgets it: the figures per minute and
the viewers per tier and country, copied by `viewing.copy_audience` (report.py).

No personal data: counts only, never a ticket, a session or an address."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime
from sqlmodel import Field, SQLModel


class AudienceMinute(SQLModel, table=True):
    """One minute of an event's viewing: sessions that played in it, time watched in it."""

    __tablename__ = "audience_minutes"

    event_id: str = Field(foreign_key="events.id", primary_key=True, max_length=32)
    minute: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    sessions: int
    watched_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class AudienceCount(SQLModel, table=True):
    """Tickets of an event that played, per tier (`tier`, a tier id) or per country
    (`country`, ISO 3166-1 alpha-2, `--` when not known)."""

    __tablename__ = "audience_counts"

    event_id: str = Field(foreign_key="events.id", primary_key=True, max_length=32)
    dimension: str = Field(primary_key=True, max_length=8)  # tier | country
    value: str = Field(primary_key=True, max_length=32)
    viewers: int
