"""What the finance domain raises for others to act on after the commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from streamsvc.kit.events import DomainEvent


@dataclass(frozen=True)
class ReconciliationRequested(DomainEvent):
    """A reconciliation job exists: a worker carries it out (a finished job is not
    run again). Must not be lost: the job would stay queued."""

    durable: ClassVar[bool] = True
    job_id: str


@dataclass(frozen=True)
class ExportRequested(DomainEvent):
    """An export job exists: a worker writes its file (a job with a file is not run
    again). Must not be lost: the job would stay queued."""

    durable: ClassVar[bool] = True
    job_id: str
