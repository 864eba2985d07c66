"""Admissions: which seat ticket came in, when, and who let it in."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from streamsvc.kit.columns import timestamp


class Admission(SQLModel, table=True):
    """One row per admitted ticket: the primary key makes a second admission impossible,
    whichever door scans it and however close together."""

    __tablename__ = "admissions"

    ticket_id: str = Field(foreign_key="tickets.id", primary_key=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    event_id: str = Field(foreign_key="events.id", index=True, max_length=32)
    # The staff member's id, as in the audit log (no foreign key: the log outlives people).
    admitted_by: str = Field(max_length=32)
    admitted_at: datetime = timestamp()
