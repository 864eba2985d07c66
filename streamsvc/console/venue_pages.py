"""The venue's settings page in the console (`/console/settings`): what the venue states
about itself on documents (its VAT number, printed on every buyer's receipt) and
whether its admins must log in with two factors. Admins change them; finance members
read them. Thin: guard, console/settings.py, render."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc.console import settings as console_settings
from streamsvc.db import UnitOfWork
from streamsvc.errors import ServiceError
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.staff.console import (
    ADMIN,
    console_caller,
    console_form,
    console_page,
    mfa_required,
)
from streamsvc.venues.models import Venue
from streamsvc.web.errors import PageErrors, page_errors
from streamsvc.web.rendering import gettext, render

READERS = frozenset({"admin", "finance"})


def _context(uow: UnitOfWork, request: Request) -> dict[str, Any]:
    caller = console_caller(request, uow.session, READERS)
    venue = uow.session.get(Venue, caller.venue_id)
    assert venue is not None
    settings = request.app.state.resources.settings
    return {"caller": caller, "venue": venue, "editing": caller.role == "admin",
            "errors": None, "typed": venue.vat_number or "",
            "done": request.query_params.get("done") == "vat",
            "mfa_required": mfa_required(venue, settings),
            "mfa_default": venue.require_mfa_for_admins is None,
            "production": settings.is_production}  # fmt: skip


@console_page
async def settings_page(request: Request) -> Response:
    context = await in_unit_of_work(request, lambda uow: _context(uow, request))
    return render(request, "console/settings.html", context)


@console_page
async def set_vat_number(request: Request) -> Response:
    form = await console_form(request)
    typed = form.get("vat_number")
    typed = typed[:100] if isinstance(typed, str) else ""

    def save(uow: UnitOfWork) -> None:
        caller = console_caller(request, uow.session, ADMIN)
        console_settings.set_vat_number(uow.session, caller.venue_id, typed)

    try:
        await in_unit_of_work(request, save)
    except ServiceError as error:
        if error.status in (401, 403):
            raise
        words: PageErrors = page_errors(request, error)
        if "vat_number" in error.fields:
            words.fields["vat_number"] = gettext(
                request, "Enter the VAT number with its country prefix, e.g. NL123456789B01."
            )
        context = await in_unit_of_work(request, lambda uow: _context(uow, request))
        context.update(errors=words, typed=typed, done=False)
        return render(request, "console/settings.html", context, status=error.status)
    return RedirectResponse("/console/settings?done=vat", status_code=303)


@console_page
async def set_mfa_requirement(request: Request) -> Response:
    form = await console_form(request)
    # A checkbox: sent ticked, absent unticked.
    required = form.get("require_mfa") == "on"

    def save(uow: UnitOfWork) -> None:
        caller = console_caller(request, uow.session, ADMIN)
        settings = request.app.state.resources.settings
        console_settings.set_mfa_requirement(uow.session, settings, caller.venue_id, required)

    await in_unit_of_work(request, save)
    return RedirectResponse("/console/settings?done=mfa", status_code=303)


routes = [
    Route("/console/settings", settings_page, methods=["GET"], include_in_schema=False),
    Route("/console/settings/vat-number", set_vat_number, methods=["POST"],
          include_in_schema=False),
    Route("/console/settings/two-factor", set_mfa_requirement, methods=["POST"],
          include_in_schema=False),
]  # fmt: skip
