"""Long-running work the API started, with progress a client can poll."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Field, SQLModel

from streamsvc.kit.columns import enum_string, jsonb, timestamp


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


FINISHED_JOB = frozenset({JobStatus.succeeded, JobStatus.failed})


class Job(SQLModel, table=True):
    __tablename__ = "jobs"

    id: str = Field(primary_key=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    kind: str = Field(max_length=40)  # event_cancellation | reconciliation ...
    subject_id: str | None = Field(default=None, max_length=32)
    status: JobStatus = enum_string(JobStatus, 12)
    done: int = 0
    total: int = 0
    result: dict[str, Any] = jsonb()
    error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
