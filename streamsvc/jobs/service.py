"""Jobs: created by a request, run by a worker, read by the client."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from streamsvc.jobs.models import Job, JobStatus
from streamsvc.kit.ids import new_id
from streamsvc.venues.tenancy import owned


class Progress(BaseModel):
    done: int
    total: int


class JobPublic(BaseModel):
    id: str
    kind: str
    subject_id: str | None
    status: str
    progress: Progress
    result: dict[str, Any]
    error: str | None
    created_at: datetime
    updated_at: datetime


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
