"""Rescheduling an event, for admins: the console's form and confirmation
(`/console/events/{id}/reschedule`) and the JSON route (`POST /v1/events/{id}/reschedule`).

Thin: both call orders/rescheduling.py. The console first shows what will happen (how
many buyers are mailed, until when they may ask for a refund) and only the confirmed
form, carrying the times in UTC as the confirmation showed them, moves the event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StrictInt
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc.catalog import console_inputs as inputs
from streamsvc.catalog import console_pages as editor
from streamsvc.catalog.events import get_event
from streamsvc.db import UnitOfWork
from streamsvc.errors import ServiceError, ValidationFailed
from streamsvc.http.endpoint import Access, Call, endpoint, in_unit_of_work
from streamsvc.kit.described import id_of, when
from streamsvc.kit.validation import Timestamp, WriteModel
from streamsvc.orders import rescheduling
from streamsvc.staff.console import ADMIN, ConsoleCaller, console_caller, console_form, console_page
from streamsvc.web.errors import PageErrors
from streamsvc.web.rendering import render

# -- the JSON API --------------------------------------------------------------------


class RescheduleCreate(WriteModel):
    starts_at: Timestamp = Field(description=when("The new start"))
    ends_at: Timestamp | None = Field(
        default=None,
        description=when("The new end; left out: the event keeps its length"),
    )
    refund_days: Annotated[
        StrictInt,
        Field(ge=rescheduling.MIN_REFUND_DAYS, le=rescheduling.MAX_REFUND_DAYS),
    ] | None = Field(
        default=None,
        description="Days the buyers may ask for a full refund on their order page (never "
        "past the new start); left out: STREAMSVC_RESCHEDULE_REFUND_DAYS (14 by default).",
    )  # fmt: skip


class RescheduleOut(BaseModel):
    event_id: str = Field(description=id_of("the event", "evt"))
    starts_at: datetime = Field(description=when("The new start"))
    ends_at: datetime = Field(description=when("The new end"))
    previous_starts_at: datetime = Field(description=when("The start before this reschedule"))
    refund_until: datetime = Field(
        description=when("Until when buyers may ask for a full refund on their order page")
    )
    buyers_notified: int = Field(
        description="Orders whose buyers are mailed the new time with the refund link (the "
        "mails go out after the answer, each once)."
    )


def _answer(done: rescheduling.Rescheduled) -> RescheduleOut:
    event = done.event
    assert event.previous_starts_at is not None and event.refund_until is not None
    return RescheduleOut(
        event_id=event.id, starts_at=event.starts_at, ends_at=event.ends_at,
        previous_starts_at=event.previous_starts_at, refund_until=event.refund_until,
        buyers_notified=done.buyers,
    )  # fmt: skip


@endpoint(
    summary="Reschedule an event on sale: its buyers are mailed the new time and may ask "
    "for a full refund within the refund period",
    tags=("events",), access=Access.admin, body=RescheduleCreate, response=RescheduleOut,
    errors=(404, 409),
)  # fmt: skip
def reschedule_event(call: Call, body: RescheduleCreate) -> RescheduleOut:
    """Only an event on sale that has not started moves (409 `not_reschedulable`
    otherwise). The catalogue and its JSON-LD show it as rescheduled from then on."""
    settings, now = call.request.app.state.resources.settings, call.clock.now()
    event = get_event(call.session, call.venue_id, call.path("event_id"))
    ends_at = body.ends_at or body.starts_at + (event.ends_at - event.starts_at)
    done = rescheduling.reschedule_event(
        call.session, call.venue_id, event.id, starts_at=body.starts_at, ends_at=ends_at,
        refund_days=body.refund_days or settings.reschedule_refund_days, now=now,
    )  # fmt: skip
    return _answer(done)


# -- the console ---------------------------------------------------------------------


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.resources.clock.now()
    return now


def _default_days(request: Request) -> int:
    days: int = request.app.state.resources.settings.reschedule_refund_days
    return days


def _context(
    request: Request, uow: UnitOfWork, caller: ConsoleCaller, event_id: str, **more: Any
) -> dict[str, Any]:
    summary = rescheduling.reschedule_summary(uow.session, caller.venue_id, event_id,
                                              _now(request))  # fmt: skip
    event = summary.event
    return {
        "caller": caller,
        "summary": summary,
        "event": event,
        "errors": PageErrors(),
        "entered": {
            "starts_at": inputs.local_input(event.starts_at, event.timezone),
            "ends_at": inputs.local_input(event.ends_at, event.timezone),
            "refund_days": str(_default_days(request)),
        },
        "confirm": None,
        **more,
    }


@console_page
async def reschedule_page(request: Request) -> Response:
    event_id = editor.path_id(request)

    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ADMIN)
        return _context(request, uow, caller, event_id)

    return render_page(request, await in_unit_of_work(request, load))


def render_page(request: Request, context: dict[str, Any], status: int = 200) -> Response:
    return render(request, "console/reschedule.html", context, status=status)


def _typed(form: FormData) -> dict[str, str]:
    return {name: editor.text(form, name, 40) for name in ("starts_at", "ends_at", "refund_days")}


def _read(typed: dict[str, str], timezone: str) -> tuple[datetime, datetime, int]:
    """The form's times (in the venue's zone) and days, or every mistake at once."""
    problems: dict[str, str] = {}
    found: dict[str, Any] = {}
    for name in ("starts_at", "ends_at"):
        try:
            found[name] = inputs.utc_from_local(typed[name], timezone, name)
        except ValidationFailed as error:
            problems.update(error.fields)
    try:
        found["refund_days"] = inputs.whole_number(
            typed["refund_days"], "refund_days", high=999
        )  # the service says which days it takes
    except ValidationFailed as error:
        problems.update(error.fields)
    if problems:
        raise ValidationFailed("The form has errors.", fields=problems)
    return found["starts_at"], found["ends_at"], found["refund_days"]


async def _act(request: Request, *, confirmed: bool) -> Response:
    event_id = editor.path_id(request)
    form = await console_form(request)
    typed = _typed(form)

    def run(uow: UnitOfWork) -> dict[str, Any] | None:
        caller = console_caller(request, uow.session, ADMIN)
        summary = rescheduling.reschedule_summary(uow.session, caller.venue_id, event_id,
                                                  _now(request))  # fmt: skip
        starts_at, ends_at, days = _read(typed, summary.event.timezone)
        if confirmed:
            rescheduling.reschedule_event(
                uow.session, caller.venue_id, event_id, starts_at=starts_at, ends_at=ends_at,
                refund_days=days, now=_now(request),
            )  # fmt: skip
            return None
        # The confirmation: refused now for what the real thing would refuse.
        refund_until = rescheduling.check_reschedule(
            uow.session, summary.event, starts_at=starts_at, ends_at=ends_at,
            refund_days=days, now=_now(request),
        )  # fmt: skip
        confirm = {"starts_at": starts_at, "ends_at": ends_at, "refund_days": days,
                   "refund_until": refund_until}  # fmt: skip
        return _context(request, uow, caller, event_id, entered=typed, confirm=confirm)

    try:
        context = await in_unit_of_work(request, run)
    except ServiceError as caught:
        error = caught
        if error.status in (401, 403, 404):
            raise

        def again(uow: UnitOfWork) -> dict[str, Any]:
            caller = console_caller(request, uow.session, ADMIN)
            return _context(request, uow, caller, event_id, entered=typed,
                            errors=editor.words(request, error))  # fmt: skip

        return render_page(request, await in_unit_of_work(request, again), status=error.status)
    if context is None:
        return RedirectResponse(
            f"/console/events/{event_id}?done=rescheduled#reschedule", status_code=303
        )
    return render_page(request, context)


@console_page
async def confirm_reschedule(request: Request) -> Response:
    return await _act(request, confirmed=False)


@console_page
async def do_reschedule(request: Request) -> Response:
    return await _act(request, confirmed=True)


def _route(path: str, handler: Any, method: str) -> Route:
    return Route(path, handler, methods=[method], include_in_schema=False)


routes = [
    Route("/v1/events/{event_id}/reschedule", reschedule_event, methods=["POST"]),
    _route("/console/events/{event_id}/reschedule", reschedule_page, "GET"),
    _route("/console/events/{event_id}/reschedule/confirm", confirm_reschedule, "POST"),
    _route("/console/events/{event_id}/reschedule", do_reschedule, "POST"),
]
