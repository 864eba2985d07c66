"""Co-production routes: the lead venue invites under /v1/events/{id}/co-producers; the
partner answers, reads and consents under /v1/co-productions/{id}. Every partner route
answers 404 for a co-production not addressed to the caller's venue."""

from __future__ import annotations

from starlette.routing import Route

from streamsvc.catalog import split_rules
from streamsvc.coproductions import service
from streamsvc.coproductions.schemas import (
    ConsentWrite,
    CoProducedEvent,
    CoProducerInvite,
    CoProductionList,
    CoProductionPublic,
    event_view,
    public,
)
from streamsvc.finance.statement import Statement
from streamsvc.http.endpoint import Access, Call, endpoint


@endpoint(
    summary="Invite another venue to co-produce the event",
    description="The partner's admin accepts or declines; once accepted it may be named a "
    "party of the split rule, and every later version of the rule waits for its consent.",
    tags=("co-productions",), access=Access.admin, body=CoProducerInvite,
    response=CoProductionPublic, status=201, errors=(404, 409),
)  # fmt: skip
def invite(call: Call, body: CoProducerInvite) -> CoProductionPublic:
    row = service.invite(call.session, call.venue_id, call.path("event_id"), body.venue_id,
                         call.clock.now())  # fmt: skip
    return public(row)


@endpoint(summary="The event's co-producers", tags=("co-productions",), access=Access.staff,
          response=CoProductionList, errors=(404,))  # fmt: skip
def list_co_producers(call: Call) -> CoProductionList:
    rows = service.of_event(call.session, call.venue_id, call.path("event_id"))
    return CoProductionList(data=[public(row) for row in reversed(rows)])


@endpoint(summary="Invitations to co-produce and co-productions of this venue",
          tags=("co-productions",), access=Access.staff, response=CoProductionList)  # fmt: skip
def list_co_productions(call: Call) -> CoProductionList:
    found = service.of_partner(call.session, call.venue_id)
    return CoProductionList(data=[public(partnership.row) for partnership in found])


@endpoint(summary="Accept an invitation to co-produce", tags=("co-productions",),
          access=Access.admin, response=CoProductionPublic, errors=(404, 409))  # fmt: skip
def accept(call: Call) -> CoProductionPublic:
    row = service.decide(call.session, call.venue_id, call.path("co_production_id"),
                         accept=True, now=call.clock.now())  # fmt: skip
    return public(row)


@endpoint(summary="Decline an invitation to co-produce", tags=("co-productions",),
          access=Access.admin, response=CoProductionPublic, errors=(404, 409))  # fmt: skip
def decline(call: Call) -> CoProductionPublic:
    row = service.decide(call.session, call.venue_id, call.path("co_production_id"),
                         accept=False, now=call.clock.now())  # fmt: skip
    return public(row)


@endpoint(summary="A co-produced event, read-only, with its split rule",
          tags=("co-productions",), access=Access.staff, response=CoProducedEvent,
          errors=(404,))  # fmt: skip
def read_event(call: Call) -> CoProducedEvent:
    return _event(call)


def _event(call: Call) -> CoProducedEvent:
    row = service.accepted(call.session, call.venue_id, call.path("co_production_id"))
    state = service.rule_state(call.session, row.event_id)
    return event_view(
        row, service.event_of(call.session, row),
        split_rules.public(state.in_force) if state.in_force else None,
        split_rules.public(state.waiting) if state.waiting else None, state.waiting_for,
    )  # fmt: skip


@endpoint(summary="A co-produced event's statement, with this venue's part only",
          tags=("co-productions",), access=Access.staff, response=Statement,
          errors=(404,))  # fmt: skip
def read_statement(call: Call) -> Statement:
    row = service.accepted(call.session, call.venue_id, call.path("co_production_id"))
    return service.partner_statement(call.session, row)


@endpoint(
    summary="Consent to a version of the split rule",
    description="Until every accepted co-producer consented, the previous version stays in "
    "force: new orders are sold under it and the splits follow it. 409 when the version "
    "does not wait for this venue (already consented, superseded, or made before it "
    "accepted).",
    tags=("co-productions",), access=Access.admin, body=ConsentWrite, response=CoProducedEvent,
    errors=(404, 409),
)  # fmt: skip
def consent(call: Call, body: ConsentWrite) -> CoProducedEvent:
    co_production_id = call.path("co_production_id")
    service.consent(call.session, call.venue_id, co_production_id, body.version,
                    call.clock.now())  # fmt: skip
    return _event(call)


routes = [
    Route("/v1/events/{event_id}/co-producers", invite, methods=["POST"]),
    Route("/v1/events/{event_id}/co-producers", list_co_producers, methods=["GET"]),
    Route("/v1/co-productions", list_co_productions, methods=["GET"]),
    Route("/v1/co-productions/{co_production_id}", read_event, methods=["GET"]),
    Route("/v1/co-productions/{co_production_id}/accept", accept, methods=["POST"]),
    Route("/v1/co-productions/{co_production_id}/decline", decline, methods=["POST"]),
    Route("/v1/co-productions/{co_production_id}/statement", read_statement, methods=["GET"]),
    Route("/v1/co-productions/{co_production_id}/consent", consent, methods=["POST"]),
]
