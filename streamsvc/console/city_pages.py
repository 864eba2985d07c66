"""The venue's city on the console's settings page (`POST /console/settings/city`):
where the venue is, as the public catalogue's city filter offers it. Admins only."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc.console import settings as console_settings
from streamsvc.console.venue_pages import _context as settings_context
from streamsvc.db import UnitOfWork
from streamsvc.errors import ServiceError
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.staff.console import ADMIN, console_caller, console_form, console_page
from streamsvc.web.errors import page_errors
from streamsvc.web.rendering import gettext, render


@console_page
async def set_city(request: Request) -> Response:
    form = await console_form(request)
    typed = form.get("city")
    typed = typed[:300] if isinstance(typed, str) else ""

    def save(uow: UnitOfWork) -> None:
        caller = console_caller(request, uow.session, ADMIN)
        console_settings.set_city(uow.session, caller.venue_id, typed)

    try:
        await in_unit_of_work(request, save)
    except ServiceError as error:
        if error.status in (401, 403):
            raise
        words = page_errors(request, error)
        if "city" in error.fields:
            words.fields["city"] = gettext(request, "at most 100 characters")
        context = await in_unit_of_work(request, lambda uow: settings_context(uow, request))
        context.update(city_errors=words, typed_city=typed, done=False)
        return render(request, "console/settings.html", context, status=error.status)
    return RedirectResponse("/console/settings?done=city", status_code=303)


routes = [
    Route("/console/settings/city", set_city, methods=["POST"], include_in_schema=False),
]
