"""/console/check-in: the door scans (device camera) or types a seat ticket's code.

GET shows the form for one of the venue's hybrid events (`?event=`, else today's);
POST admits (checkin/service.py) and shows the verdict above the same form. The code
is a secret: it travels in the POST body only, never in a URL.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streamsvc.catalog.models import Event
from streamsvc.checkin import service
from streamsvc.db import UnitOfWork
from streamsvc.errors import NotFound
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.staff.console import ConsoleCaller, console_caller, console_form, console_page
from streamsvc.web.rendering import render

DOOR = frozenset({"admin", "door"})
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _event_id(value: object) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= 32 and set(value) <= _ID_CHARS:
        return value
    return None


def _context(
    request: Request, uow: UnitOfWork, caller: ConsoleCaller, chosen: str | None
) -> dict[str, Any]:
    events = service.door_events(uow.session, caller.venue_id)
    now = request.app.state.resources.clock.now()
    event: Event | None
    if chosen is not None:
        event = service.door_event(uow.session, caller.venue_id, chosen)
    else:
        event = service.todays_event(events, now)
    return {"caller": caller, "events": events, "event": event, "verdict": None}


@console_page
async def check_in_page(request: Request) -> Response:
    chosen = request.query_params.get("event")
    if chosen is not None and _event_id(chosen) is None:
        raise NotFound("No such event.")

    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, DOOR)
        return _context(request, uow, caller, chosen)

    return render(request, "console/checkin.html", await in_unit_of_work(request, load))


@console_page
async def admit(request: Request) -> Response:
    form: FormData = await console_form(request)
    event_id = _event_id(form.get("event_id"))
    code = form.get("code")
    code = code.strip() if isinstance(code, str) else ""

    def run(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, DOOR)
        if event_id is None:
            raise NotFound("No such event.")
        context = _context(request, uow, caller, event_id)
        context["verdict"] = service.admit(
            uow.session, venue_id=caller.venue_id, event_id=event_id, code=code,
            person_id=caller.person_id, now=request.app.state.resources.clock.now(),
        )  # fmt: skip
        return context

    return render(request, "console/checkin.html", await in_unit_of_work(request, run))


routes = [
    Route("/console/check-in", check_in_page, methods=["GET"], include_in_schema=False),
    Route("/console/check-in", admit, methods=["POST"], include_in_schema=False),
]
