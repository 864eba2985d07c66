"""Starting a reconciliation run: which events, as a job a worker carries out."""

from __future__ import annotations

from datetime import datetime, timedelta

from streamsvc.catalog.models import Event
from streamsvc.db import UnitOfWork
from streamsvc.errors import ValidationFailed
from streamsvc.finance.events import ReconciliationRequested
from streamsvc.finance.recent import with_activity
from streamsvc.finance.reconciliation import KIND
from streamsvc.finance.schemas import ReconciliationCreate
from streamsvc.jobs.models import Job
from streamsvc.jobs.service import create_job
from streamsvc.venues.tenancy import owned


def start_reconciliation(
    uow: UnitOfWork,
    venue_id: str,
    request: ReconciliationCreate,
    now: datetime,
    *,
    lookback_hours: int,
) -> Job:
    """A job for one event of the venue, or for every event and recording with money
    activity in the period (by default the last `lookback_hours`); a worker is asked
    after the commit."""
    recordings: list[str] = []
    if request.event_id:
        events = [owned(uow.session, Event, request.event_id, venue_id).id]
    else:
        since = request.from_ or now - timedelta(hours=lookback_hours)
        until = request.to or now
        if since >= until:
            raise ValidationFailed("The period is empty.", fields={"from": "must be before to"})
        active = with_activity(uow.session, since, until, venue_id)
        events = sorted(subject for _, kind, subject in active if kind == "event")
        recordings = sorted(subject for _, kind, subject in active if kind == "recording")
    job = create_job(uow.session, venue_id, KIND, request.event_id, now)
    job.result = {"events": events, "recordings": recordings}
    uow.emit(ReconciliationRequested(job.id))
    return job
