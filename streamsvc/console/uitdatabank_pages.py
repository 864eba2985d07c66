"""The console's UiTdatabank forms on the event page: the venue's UiTdatabank place, and
"Push again" (send the event to UiTdatabank now, even if unchanged). Admins only.

Both run in a unit of work that raises the durable domain event the worker acts on
(listings/uitdatabank/watch.py raises VenueListingsChanged for the place; Push again
raises ListingChanged with `force`), and both are written to the audit log.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc import audit
from streamsvc.catalog import console_pages as editor
from streamsvc.catalog import events
from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.console import settings as console_settings
from streamsvc.db import UnitOfWork, emit
from streamsvc.errors import Conflict, ServiceError
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.listings.events import ListingChanged
from streamsvc.listings.uitdatabank.push import mark_pending
from streamsvc.staff.console import ADMIN, console_caller, console_form, console_page
from streamsvc.web.rendering import N_, gettext, render

PLACE_WORDS = {console_settings.NOT_A_PLACE: N_(
    "enter the place's UiTdatabank id, such as 5cf42d51-3a4f-46f0-a8af-1cf672be8c84"
)}  # fmt: skip


@console_page
async def push_again(request: Request) -> Response:
    event_id = editor.path_id(request)
    await console_form(request)  # the CSRF check

    def ask(uow: UnitOfWork) -> None:
        caller = console_caller(request, uow.session, ADMIN)
        event = events.get_event(uow.session, caller.venue_id, event_id)
        now = request.app.state.resources.clock.now()
        status = events.status_of(event, now)
        if status in (EventStatus.draft, EventStatus.ended):
            raise Conflict(
                "Only a published event that is not over is listed.",
                code="not_listable",
                details={"current_status": status.value},
            )
        mark_pending(uow.session, event.id, now)
        emit(uow.session, ListingChanged(event.id, force=True))
        audit.record(uow.session, venue_id=caller.venue_id, action="event.listing_pushed",
                     object_type="event", object_id=event.id)  # fmt: skip

    await in_unit_of_work(request, ask)
    return RedirectResponse(
        f"/console/events/{event_id}?done=uitdatabank-push#uitdatabank", status_code=303
    )


@console_page
async def set_place(request: Request) -> Response:
    form = await console_form(request)
    back = editor.text(form, "event_id", 40)
    target = f"/console/events/{back}" if editor.ID.fullmatch(back) else "/console"
    typed = editor.text(form, "uitdatabank_place", 200)

    def save(uow: UnitOfWork) -> None:
        caller = console_caller(request, uow.session, ADMIN)
        console_settings.set_uitdatabank_place(uow.session, caller.venue_id, typed)

    try:
        await in_unit_of_work(request, save)
    except ServiceError as caught:
        error = caught
        if error.status in (401, 403) or target == "/console":
            raise
        found = editor.words(request, error)
        for name, said in error.fields.items():
            if said in PLACE_WORDS:
                found.fields[name] = gettext(request, PLACE_WORDS[said])
        entered = editor.Editor("uitdatabank-place", found, {"uitdatabank_place": typed})

        def again(uow: UnitOfWork) -> dict[str, Any]:
            caller = console_caller(request, uow.session, ADMIN)
            return editor.event_context(request, uow, caller, back, entered)

        context = await in_unit_of_work(request, again)
        return render(request, "console/event.html", context, status=error.status)
    return RedirectResponse(f"{target}?done=uitdatabank-place#uitdatabank", status_code=303)


def _route(path: str, handler: Any, method: str) -> Route:
    return Route(path, handler, methods=[method], include_in_schema=False)


routes = [
    _route("/console/events/{event_id}/uitdatabank/push", push_again, "POST"),
    _route("/console/uitdatabank-place", set_place, "POST"),
]
