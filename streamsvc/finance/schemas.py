"""What finance's readers and callers send and receive."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from streamsvc.catalog.schemas import ObjectId
from streamsvc.kit.validation import Timestamp, WriteModel


class ReconciliationCreate(WriteModel):
    """One event, or every event of the venue with money activity in [from, to)."""

    event_id: ObjectId | None = None
    from_: Timestamp | None = Field(default=None, alias="from")
    to: Timestamp | None = None

    model_config = {"populate_by_name": True}


class FindingsQuery(BaseModel):
    model_config = {"extra": "forbid"}
    event_id: ObjectId | None = None


class Finding(BaseModel):
    id: str
    event_id: str | None
    kind: str
    reference: str
    detail: str
    created_at: datetime


class FindingList(BaseModel):
    data: list[Finding]
