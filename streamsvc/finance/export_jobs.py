"""Export jobs: a split export too large to hold a request open for (an XLSX of many
rows), written by a worker and kept in PostgreSQL (`export_files`) so that any API
node serves its download link until the link expires.

The job (kind `export`) holds what was asked in `result` (`from`, `to`, `event_id`,
`recording_id`, `party`, `format`); the worker re-reads it, counts the rows (the job's `total`),
writes the file while it reports `done`, and stores it with the job once. The same
export service and file writers as the direct downloads (exports.py, export_files.py)
make the file, so a job's file and a direct download of the same filter are the
same rows and totals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from streamsvc.db import Database, emit
from streamsvc.errors import NotFound, ServiceError
from streamsvc.finance import export_files, exports
from streamsvc.finance.events import ExportRequested
from streamsvc.finance.models import ExportFile
from streamsvc.jobs.models import FINISHED_JOB, Job, JobStatus
from streamsvc.jobs.service import create_job
from streamsvc.venues.models import Venue

KIND = "export"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PROGRESS_EVERY = 1000  # rows between two progress updates of the job


class LinkExpired(ServiceError):
    """The export's download link has expired (its file is deleted, or about to be)."""

    status, code = 410, "link_expired"


@dataclass(frozen=True)
class ExportAsk:
    """What a person asked for: days of the venue's calendar (both included), an event,
    a party (`performer:prf_…`, `venue:ven_…` or `rights_holder:rhd_…`), a recording,
    each optional but the days."""

    first: date
    last: date
    event_id: str | None = None
    party: str | None = None
    recording_id: str | None = None

    def as_result(self) -> dict[str, Any]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat(),
                "event_id": self.event_id, "recording_id": self.recording_id,
                "party": self.party, "format": "xlsx"}  # fmt: skip

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> ExportAsk:
        return cls(date.fromisoformat(result["from"]), date.fromisoformat(result["to"]),
                   result.get("event_id"), result.get("party"),
                   result.get("recording_id"))  # fmt: skip

    @property
    def filename(self) -> str:
        return f"splits-{self.first.isoformat()}-{self.last.isoformat()}"


def split_filter(venue: Venue, ask: ExportAsk) -> exports.SplitFilter:
    """The export's filter: the asked days as instants of the venue's timezone."""
    zone = ZoneInfo(venue.timezone)
    since = datetime.combine(ask.first, time(), zone)
    until = datetime.combine(ask.last + timedelta(days=1), time(), zone)
    return exports.SplitFilter(venue.id, since, until, event_id=ask.event_id, party=ask.party,
                               recording_id=ask.recording_id)  # fmt: skip


def count_rows(engine: Engine, where: exports.SplitFilter, *, cap: int | None = None) -> int:
    """How many rows the export of `where` has (its job's total), counting no further
    than `cap` when given (enough to choose between a download and a job)."""
    # The export's own query (a constant of exports.py, no input in it), counted: the
    # same rows by construction; the input is bound as parameters.
    query = exports._ROWS.text
    limit = " LIMIT :cap" if cap is not None else ""
    counting = f"SELECT count(*) FROM ({query}{limit}) AS q"  # noqa: S608
    party_type, _, party_id = where.party.partition(":") if where.party else (None, "", None)
    params = {"venue_id": where.venue_id, "since": where.since, "until": where.until,
              "event_id": where.event_id, "recording_id": where.recording_id,
              "party_type": party_type, "party_id": party_id, "cap": cap}  # fmt: skip
    with engine.connect() as conn:
        return int(conn.execute(text(counting), params).scalar_one())


def start_export(session: Session, venue_id: str, ask: ExportAsk, now: datetime) -> Job:
    """A queued export job; a worker is asked after the commit (ExportRequested)."""
    job = create_job(session, venue_id, KIND, ask.event_id, now)
    job.result = ask.as_result()
    emit(session, ExportRequested(job.id))
    return job


def build_export(database: Database, job_id: str, now: datetime, *, link_hours: int) -> bool:
    """Write the job's XLSX file and store it with the job; False when there was
    nothing to do (finished already, or its file is stored: a task run twice)."""
    with database.unit_of_work() as uow:
        job = uow.session.exec(select(Job).where(Job.id == job_id).with_for_update()).first()
        if job is None or job.kind != KIND or job.status in FINISHED_JOB:
            return False
        if uow.session.get(ExportFile, job_id) is not None:
            job.status, job.done, job.updated_at = JobStatus.succeeded, job.total, now
            uow.session.add(job)
            return False
        venue = uow.session.get(Venue, job.venue_id)
        assert venue is not None
        ask = ExportAsk.from_result(job.result)
        where = split_filter(venue, ask)
        job.status, job.updated_at = JobStatus.running, now
        uow.session.add(job)
    total = count_rows(database.engine, where)
    _progress(database, job_id, 0, total, now)
    counted = _Counting(exports.rows(database.engine, where),
                        lambda done: _progress(database, job_id, done, total, now))  # fmt: skip
    with export_files.xlsx_file(iter(counted)) as spool:
        content = spool.read()
    expires_at = now + timedelta(hours=link_hours)
    with database.unit_of_work() as uow:
        uow.session.execute(
            insert(ExportFile)
            .values(job_id=job_id, venue_id=venue.id, media_type=XLSX,
                    filename=f"{ask.filename}.xlsx", rows=counted.done, size=len(content),
                    content=content, created_at=now, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["job_id"])
        )  # fmt: skip
        job = uow.session.exec(select(Job).where(Job.id == job_id).with_for_update()).one()
        job.status, job.done, job.total = JobStatus.succeeded, counted.done, counted.done
        job.result = {**job.result, "rows": counted.done, "filename": f"{ask.filename}.xlsx",
                      "expires_at": expires_at.isoformat()}  # fmt: skip
        job.updated_at = now
        uow.session.add(job)
    return True


def fail_export(database: Database, job_id: str, error: str, now: datetime) -> None:
    """Record why a job gave up (the worker retried it as often as it may)."""
    with database.unit_of_work() as uow:
        job = uow.session.exec(select(Job).where(Job.id == job_id).with_for_update()).first()
        if job is not None and job.status not in FINISHED_JOB:
            job.status, job.error, job.updated_at = JobStatus.failed, error[:2000], now
            uow.session.add(job)


class _Counting:
    """The rows, passed on as they stream, counted; `report` every PROGRESS_EVERY."""

    def __init__(self, source: Iterator[exports.Row], report: Callable[[int], None]) -> None:
        self.source, self.report, self.done = source, report, 0

    def __iter__(self) -> Iterator[exports.Row]:
        for row in self.source:
            self.done += 1
            if self.done % PROGRESS_EVERY == 0:
                self.report(self.done)
            yield row


def _progress(database: Database, job_id: str, done: int, total: int, now: datetime) -> None:
    with database.unit_of_work() as uow:
        uow.session.execute(
            text("UPDATE jobs SET done = :d, total = :t, updated_at = :n WHERE id = :j"),
            {"d": done, "t": total, "n": now, "j": job_id},
        )


def export_file(session: Session, venue_id: str, job_id: str, now: datetime) -> ExportFile:
    """The venue's stored file of an export job; 404 for another venue's or an unfinished
    job, 410 once its link has expired (whether or not beat has deleted it yet)."""
    job = session.exec(select(Job).where(Job.id == job_id, Job.venue_id == venue_id,
                                         Job.kind == KIND)).first()  # fmt: skip
    if job is None:
        raise NotFound("No such export.")
    stored = session.get(ExportFile, job_id)
    expires = job.result.get("expires_at")
    if stored is None and expires and datetime.fromisoformat(expires) <= now:
        raise LinkExpired("This download link has expired. Start the export again.")
    if stored is None or stored.venue_id != venue_id:
        raise NotFound("This export has no file yet.")
    if stored.expires_at <= now:
        raise LinkExpired("This download link has expired. Start the export again.")
    return stored


def delete_expired(session: Session, now: datetime) -> int:
    """Delete the files whose link has expired; how many."""
    gone = session.execute(
        delete(ExportFile).where(col(ExportFile.expires_at) <= now)
        .returning(col(ExportFile.job_id))
    ).all()  # fmt: skip
    return len(gone)
