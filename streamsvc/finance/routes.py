"""Finance routes (finance or admin keys): reconciliations, findings, statements."""

from __future__ import annotations

from starlette.routing import Route

from streamsvc.catalog.models import Event
from streamsvc.finance import runs
from streamsvc.finance.findings import findings
from streamsvc.finance.schemas import FindingList, FindingsQuery, ReconciliationCreate
from streamsvc.finance.statement import (
    RecordingStatement,
    Statement,
    recording_statement,
    statement,
)  # fmt: skip
from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.jobs.service import JobPublic, public
from streamsvc.recordings.models import Recording
from streamsvc.venues.tenancy import owned


@endpoint(
    summary="Reconcile with Stripe (a job): collect, post and split every movement of money",
    tags=("finance",), access=Access.staff, body=ReconciliationCreate, response=JobPublic,
    status=202, errors=(404, 422),
)  # fmt: skip
def start_reconciliation(call: Call, body: ReconciliationCreate) -> JobPublic:
    lookback_hours = call.settings.reconcile_lookback_hours
    job = runs.start_reconciliation(
        call.uow, call.venue_id, body, call.clock.now(), lookback_hours=lookback_hours
    )
    return public(job)


@endpoint(
    summary="An event's statement: the waterfall and the parties, as the ledger holds them",
    tags=("finance",), access=Access.staff, response=Statement, errors=(404,),
)  # fmt: skip
def read_statement(call: Call) -> Statement:
    event = owned(call.session, Event, call.path("event_id"), call.venue_id)
    return statement(call.session, event)


@endpoint(
    summary="An archive recording's statement: the waterfall and the parties (its rights "
    "holders among them), as the ledger holds them",
    tags=("finance",), access=Access.staff, response=RecordingStatement, errors=(404,),
)  # fmt: skip
def read_recording_statement(call: Call) -> RecordingStatement:
    recording = owned(call.session, Recording, call.path("recording_id"), call.venue_id)
    return recording_statement(call.session, recording)


@endpoint(summary="Differences found between Stripe and the ledger", tags=("finance",),
          access=Access.staff, query=FindingsQuery, response=FindingList)  # fmt: skip
def list_findings(call: Call, query: FindingsQuery) -> FindingList:
    return findings(call.session, call.venue_id, query.event_id)


routes = [
    Route("/v1/finance/reconciliations", start_reconciliation, methods=["POST"]),
    Route("/v1/finance/findings", list_findings, methods=["GET"]),
    Route("/v1/finance/events/{event_id}/statement", read_statement, methods=["GET"]),
    Route(
        "/v1/finance/recordings/{recording_id}/statement",
        read_recording_statement,
        methods=["GET"],
    ),
]
