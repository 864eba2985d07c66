"""Finance routes (finance or admin keys): start a reconciliation, read its findings."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import col, select
from starlette.routing import Route

from streamsvc.catalog.models import Event
from streamsvc.catalog.schemas import ObjectId
from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.jobs.service import JobPublic, create_job, public
from streamsvc.kit.validation import WriteModel
from streamsvc.ledger.models import ReconciliationFinding
from streamsvc.venues.tenancy import owned


class ReconciliationCreate(WriteModel):
    event_id: ObjectId


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
    summary="Reconcile an event with Stripe (a job): post every charge and refund as reported",
    tags=("finance",), access=Access.staff, body=ReconciliationCreate, response=JobPublic,
    status=202, errors=(404,),
)  # fmt: skip
def start_reconciliation(call: Call, body: ReconciliationCreate) -> JobPublic:
    event = owned(call.session, Event, body.event_id, call.venue_id)
    job = create_job(call.session, call.venue_id, "reconciliation", event.id, call.clock.now())
    queue, job_id = call.request.app.state.resources.queue, job.id
    call.uow.after_commit(lambda: queue.enqueue("finance.reconcile_event", job_id))
    return public(job)


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
]
