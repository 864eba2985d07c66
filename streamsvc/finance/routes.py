"""Finance routes (finance or admin keys): reconciliations, findings, statements."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlmodel import col, select
from starlette.routing import Route

from streamsvc.catalog.models import Event
from streamsvc.catalog.schemas import ObjectId
from streamsvc.errors import ValidationFailed
from streamsvc.finance.recent import events_with_activity
from streamsvc.finance.reconciliation import KIND
from streamsvc.finance.statement import Statement, statement
from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.jobs.service import JobPublic, create_job, public
from streamsvc.kit.validation import Timestamp, WriteModel
from streamsvc.ledger.models import ReconciliationFinding
from streamsvc.venues.tenancy import owned


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


@endpoint(
    summary="Reconcile with Stripe (a job): collect, post and split every movement of money",
    tags=("finance",), access=Access.staff, body=ReconciliationCreate, response=JobPublic,
    status=202, errors=(404, 422),
)  # fmt: skip
def start_reconciliation(call: Call, body: ReconciliationCreate) -> JobPublic:
    now = call.clock.now()
    if body.event_id:
        events = [owned(call.session, Event, body.event_id, call.venue_id).id]
    else:
        lookback = timedelta(hours=call.settings.reconcile_lookback_hours)
        since, until = body.from_ or now - lookback, body.to or now
        if since >= until:
            raise ValidationFailed("The period is empty.", fields={"from": "must be before to"})
        active = events_with_activity(call.session, since, until, call.venue_id)
        events = sorted(event for _, event in active)
    job = create_job(call.session, call.venue_id, KIND, body.event_id, now)
    job.result = {"events": events}
    queue, job_id = call.request.app.state.resources.queue, job.id
    call.uow.after_commit(lambda: queue.enqueue("finance.reconcile", job_id))
    return public(job)


@endpoint(
    summary="An event's statement: the waterfall and the parties, as the ledger holds them",
    tags=("finance",), access=Access.staff, response=Statement, errors=(404,),
)  # fmt: skip
def read_statement(call: Call) -> Statement:
    event = owned(call.session, Event, call.path("event_id"), call.venue_id)
    return statement(call.session, event)


@endpoint(summary="Differences found between Stripe and the ledger", tags=("finance",),
          access=Access.staff, query=FindingsQuery, response=FindingList)  # fmt: skip
def list_findings(call: Call, query: FindingsQuery) -> FindingList:
    statement = select(ReconciliationFinding).where(ReconciliationFinding.venue_id == call.venue_id)
    if query.event_id:
        statement = statement.where(ReconciliationFinding.event_id == query.event_id)
    rows = call.session.exec(statement.order_by(col(ReconciliationFinding.created_at)).limit(500))
    return FindingList(data=[Finding.model_validate(row, from_attributes=True) for row in rows])


routes = [
    Route("/v1/finance/reconciliations", start_reconciliation, methods=["POST"]),
    Route("/v1/finance/findings", list_findings, methods=["GET"]),
    Route("/v1/finance/events/{event_id}/statement", read_statement, methods=["GET"]),
]
