"""Co-productions in the console: the lead venue invites from its event page; the
partner venue answers invitations, reads a co-produced event (its split rule, the
version waiting for consent, its statement with its own part) and consents.

Thin like the JSON routes: the same service (coproductions/service.py), answered as
HTML under the console contract (staff/console.py). Everything a partner reads goes
through `service.accepted`, so another venue's event answers 404.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc.catalog.console_pages import event_action, path_id, text, words
from streamsvc.catalog.models import Event
from streamsvc.coproductions import service
from streamsvc.db import UnitOfWork
from streamsvc.errors import ServiceError, ValidationFailed
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.staff.console import ADMIN, ConsoleCaller, console_caller, console_form, console_page
from streamsvc.venues.models import Venue
from streamsvc.web.errors import PageErrors
from streamsvc.web.rendering import render

ADMIN_FINANCE = frozenset({"admin", "finance"})


def _now(request: Request) -> Any:
    return request.app.state.resources.clock.now()


@console_page
async def invite(request: Request) -> Response:
    """The lead venue's event page form "Invite a co-producer"."""

    def act(uow: UnitOfWork, caller: ConsoleCaller, event: Event, form: FormData) -> None:
        venue_id = text(form, "venue_id", 32)
        if not venue_id:
            raise ValidationFailed("The form has errors.", fields={"venue_id": "give a venue id"})
        service.invite(uow.session, caller.venue_id, event.id, venue_id, _now(request))

    return await event_action(request, "co-producers", act)


@console_page
async def list_page(request: Request) -> Response:
    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ADMIN_FINANCE)
        return {"caller": caller, "partnerships": service.of_partner(uow.session, caller.venue_id),
                "done": request.query_params.get("done") in ("accepted", "declined")}  # fmt: skip

    return render(request, "console/coproductions.html", await in_unit_of_work(request, load))


async def _decide(request: Request, accept: bool) -> Response:
    co_production_id = path_id(request, "co_production_id")
    await console_form(request)

    def run(uow: UnitOfWork) -> str:
        caller = console_caller(request, uow.session, ADMIN)
        row = service.decide(uow.session, caller.venue_id, co_production_id, accept=accept,
                             now=_now(request))  # fmt: skip
        return str(row.status)

    status = await in_unit_of_work(request, run)
    if status == "accepted":
        return RedirectResponse(f"/console/co-productions/{co_production_id}", status_code=303)
    return RedirectResponse(f"/console/co-productions?done={status}", status_code=303)


@console_page
async def accept(request: Request) -> Response:
    return await _decide(request, accept=True)


@console_page
async def decline(request: Request) -> Response:
    return await _decide(request, accept=False)


def _context(uow: UnitOfWork, caller: ConsoleCaller, co_production_id: str,
             errors: PageErrors | None = None) -> dict[str, Any]:  # fmt: skip
    session = uow.session
    row = service.accepted(session, caller.venue_id, co_production_id)
    event = service.event_of(session, row)
    lead = session.get(Venue, row.lead_venue_id)
    state = service.rule_state(session, row.event_id)
    names = {venue.id: venue.name for venue in (session.get(Venue, share["party"]["id"])
             for rule in (state.in_force, state.waiting) if rule is not None
             for share in rule.shares if share["party"]["type"] == "venue") if venue}  # fmt: skip
    return {
        "caller": caller, "row": row, "event": event, "lead_name": lead.name if lead else "",
        "in_force": state.in_force, "waiting": state.waiting,
        "waiting_for_me": caller.venue_id in state.waiting_for, "names": names,
        "statement": service.partner_statement(session, row), "errors": errors or PageErrors(),
        "done": False,
    }  # fmt: skip


@console_page
async def co_production_page(request: Request) -> Response:
    co_production_id = path_id(request, "co_production_id")

    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ADMIN_FINANCE)
        context = _context(uow, caller, co_production_id)
        context["done"] = request.query_params.get("done") == "consented"
        return context

    return render(request, "console/coproduction.html", await in_unit_of_work(request, load))


@console_page
async def consent(request: Request) -> Response:
    """The partner's button "Consent to the split" (names the version it read)."""
    co_production_id = path_id(request, "co_production_id")
    form = await console_form(request)
    typed = text(form, "version", 12)

    def run(uow: UnitOfWork) -> None:
        caller = console_caller(request, uow.session, ADMIN)
        if not typed.isdigit():
            raise ValidationFailed("The form has errors.", fields={"version": "no such version"})
        service.consent(uow.session, caller.venue_id, co_production_id, int(typed),
                        _now(request))  # fmt: skip

    try:
        await in_unit_of_work(request, run)
    except ServiceError as error:
        if error.status in (401, 403, 404):
            raise
        said = words(request, error)

        def again(uow: UnitOfWork) -> dict[str, Any]:
            caller = console_caller(request, uow.session, ADMIN)
            return _context(uow, caller, co_production_id, said)

        context = await in_unit_of_work(request, again)
        return render(request, "console/coproduction.html", context, status=error.status)
    return RedirectResponse(f"/console/co-productions/{co_production_id}?done=consented",
                            status_code=303)  # fmt: skip


def _route(path: str, handler: Any, method: str) -> Route:
    return Route(path, handler, methods=[method], include_in_schema=False)


routes = [
    _route("/console/events/{event_id}/co-producers", invite, "POST"),
    _route("/console/co-productions", list_page, "GET"),
    _route("/console/co-productions/{co_production_id}", co_production_page, "GET"),
    _route("/console/co-productions/{co_production_id}/accept", accept, "POST"),
    _route("/console/co-productions/{co_production_id}/decline", decline, "POST"),
    _route("/console/co-productions/{co_production_id}/consent", consent, "POST"),
]
