"""Jobs: created by a request, run by a worker, read by the client."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from streamsvc.jobs.models import Job, JobStatus
from streamsvc.kit.ids import new_id
from streamsvc.venues.tenancy import owned


class Progress(BaseModel):
    done: int = Field(description="Units of work done (orders, questions asked of Stripe).")
    total: int = Field(description="Units of work in all; done == total when finished.")


class JobPublic(BaseModel):
    id: str = Field(description="The job's id (`job_…`, opaque).")
    kind: str = Field(description="What it does: `reconciliation` or `event_cancellation`.")
    subject_id: str | None = Field(description="What it works on (an event's id); null: a period.")
    status: str = Field(
        description="`queued` (waiting for a worker), `running`, `succeeded` or `failed`."
    )
    progress: Progress = Field(description="How far it is.")
    result: dict[str, Any] = Field(description="What it found or did, once it has succeeded.")
    error: str | None = Field(description="Why it failed; null unless `failed`.")
    created_at: datetime = Field(description="When it was asked for: RFC 3339 with offset.")
    updated_at: datetime = Field(description="When it last moved: RFC 3339 with offset.")


def create_job(
    session: Session, venue_id: str, kind: str, subject_id: str | None, now: datetime
) -> Job:
    job = Job(id=new_id("job"), venue_id=venue_id, kind=kind, subject_id=subject_id,
              status=JobStatus.queued, result={}, created_at=now, updated_at=now)  # fmt: skip
    session.add(job)
    session.flush()
    return job


def active_job(session: Session, kind: str, subject_id: str) -> Job | None:
    unfinished = col(Job.status).in_((JobStatus.queued, JobStatus.running))
    query = select(Job).where(Job.kind == kind, Job.subject_id == subject_id, unfinished)
    return session.exec(query).first()


def get_job(session: Session, venue_id: str, job_id: str) -> Job:
    return owned(session, Job, job_id, venue_id)


def public(job: Job) -> JobPublic:
    return JobPublic(
        id=job.id, kind=job.kind, subject_id=job.subject_id, status=job.status,
        progress=Progress(done=job.done, total=job.total), result=job.result, error=job.error,
        created_at=job.created_at, updated_at=job.updated_at,
    )  # fmt: skip
