"""Console pages of payout details: /console/finance/parties (every party, details
masked) and /console/finance/parties/{party_type}/{party_id} (change them; confirm
another member's change). Finance and admin only; the full IBAN is never shown again
once stored, only its mask.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc.db import UnitOfWork
from streamsvc.errors import NotFound, ServiceError
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.payouts import details, reading
from streamsvc.payouts.console_pages import FINANCE, _field, _now, _reason, path_id, words
from streamsvc.payouts.models import PARTY_TYPES
from streamsvc.staff.console import ConsoleCaller, console_caller, console_form, console_page
from streamsvc.web.errors import PageErrors
from streamsvc.web.rendering import render

DONE = ("changed", "confirmed")


@console_page
async def parties_page(request: Request) -> Response:
    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, FINANCE)
        return {
            "caller": caller,
            "parties": reading.parties(uow.session, caller.venue_id),
            "reason": lambda code: _reason(request, code),
        }

    return render(request, "console/payouts_parties.html", await in_unit_of_work(request, load))


def _party_path(request: Request) -> tuple[str, str]:
    party_type, party_id = path_id(request, "party_type"), path_id(request, "party_id")
    if party_type not in PARTY_TYPES:
        raise NotFound("No such party.")
    return party_type, party_id


def party_context(
    request: Request,
    uow: UnitOfWork,
    caller: ConsoleCaller,
    party_type: str,
    party_id: str,
    *,
    errors: PageErrors | None = None,
    entered: dict[str, str] | None = None,
) -> dict[str, Any]:
    party = details.party(uow.session, caller.venue_id, party_type, party_id)
    found = details.details_of(uow.session, caller.venue_id, party_type, party_id)
    done = request.query_params.get("done")
    return {
        "caller": caller,
        "party": party,
        "details": found,
        "masked": details.mask(found.iban) if found else "",
        "status": details.hold_reason(found) or "ok",
        "may_confirm": found is not None
        and found.confirmed_at is None
        and found.changed_by != caller.person_id,
        "errors": errors or PageErrors(),
        "entered": entered or {},
        "done": done if done in DONE else None,
        "reason": lambda code: _reason(request, code),
    }


@console_page
async def party_page(request: Request) -> Response:
    party_type, party_id = _party_path(request)

    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, FINANCE)
        return party_context(request, uow, caller, party_type, party_id)

    return render(request, "console/payouts_party.html", await in_unit_of_work(request, load))


async def _party_action(request: Request, name: str, change: bool) -> Response:
    party_type, party_id = _party_path(request)
    form = await console_form(request)
    typed = {key: _field(form, key, 70) for key in ("holder", "iban", "bic")}

    def work(uow: UnitOfWork) -> None:
        caller = console_caller(request, uow.session, FINANCE)
        if change:
            details.change(
                uow.session,
                caller.venue_id,
                party_type,
                party_id,
                holder=typed["holder"],
                iban=typed["iban"],
                bic=typed["bic"],
                changed_by=caller.person_id,
                now=_now(request),
            )
        else:
            details.confirm(
                uow.session,
                caller.venue_id,
                party_type,
                party_id,
                confirmed_by=caller.person_id,
                now=_now(request),
            )

    try:
        await in_unit_of_work(request, work)
    except ServiceError as error:
        if error.status in (401, 404) or error.code in ("forbidden", "csrf_failed"):
            raise
        found = words(request, error)

        def again(uow: UnitOfWork) -> dict[str, Any]:
            caller = console_caller(request, uow.session, FINANCE)
            return party_context(
                request, uow, caller, party_type, party_id, errors=found, entered=typed
            )

        context = await in_unit_of_work(request, again)
        return render(request, "console/payouts_party.html", context, status=error.status)
    path = f"/console/finance/parties/{party_type}/{party_id}?done={name}"
    return RedirectResponse(path, status_code=303)


@console_page
async def change_details(request: Request) -> Response:
    return await _party_action(request, "changed", change=True)


@console_page
async def confirm_details(request: Request) -> Response:
    return await _party_action(request, "confirmed", change=False)


PARTY = "/console/finance/parties/{party_type}/{party_id}"
routes = [
    Route("/console/finance/parties", parties_page, methods=["GET"], include_in_schema=False),
    Route(PARTY, party_page, methods=["GET"], include_in_schema=False),
    Route(PARTY, change_details, methods=["POST"], include_in_schema=False),
    Route(f"{PARTY}/confirm", confirm_details, methods=["POST"], include_in_schema=False),
]
