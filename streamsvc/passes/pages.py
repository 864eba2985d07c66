"""The holder's pass page, `/passes/{holding_id}`: its events, a Claim button for each.

The pass code is a bearer secret (PAGES.md): the mail's link carries it in the
fragment, `#code=…`; static/js/pass.js hands it over once by POST
(`/passes/{id}/code`), which sets cookie `pass_<id>` (HttpOnly, Path=/passes/<id>),
and clears it from the address bar. Claiming is a form with a CSRF token; the page
comes back with the claimed ticket's Watch link.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from streamsvc.db import UnitOfWork
from streamsvc.errors import NotFound, ServiceError
from streamsvc.http.endpoint import in_unit_of_work, read_body
from streamsvc.passes import claims, views
from streamsvc.web.csrf import check_csrf
from streamsvc.web.errors import PageErrors, page_errors
from streamsvc.web.forms import read_form
from streamsvc.web.rendering import N_, gettext, render

COOKIE_MAX_AGE = 400 * 24 * 3600  # a season
# Why a claim was refused, in the holder's words (claims.claim's codes).
CLAIM_REFUSED = {
    "sold_out": N_("That event is sold out."),
    "pass_used_up": N_("This pass has been used for as many events as it allows."),
    "not_covered": N_("This pass does not cover that event."),
    "pass_not_valid": N_("This pass is no longer valid."),
    "sales_closed": N_("That event can no longer be claimed."),
}


def _cookie(holding_id: str) -> str:
    return f"pass_{holding_id}"


def _holding_id(request: Request) -> str:
    holding_id = str(request.path_params["holding_id"])
    if not holding_id.isascii() or len(holding_id) > 32:
        raise NotFound("No such pass.")
    return holding_id


class CodeHandOver(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Annotated[str, StringConstraints(min_length=1, max_length=100)]


async def hand_over_code(request: Request) -> Response:
    """Set the pass cookie from the code the mail's link carried in its fragment."""
    holding_id = _holding_id(request)
    try:
        check_csrf(request)
        body = await read_body(request, CodeHandOver)
        await in_unit_of_work(
            request, lambda uow: views.authorised(uow.session, holding_id, body.code)
        )
    except ServiceError as error:
        words = page_errors(request, error)
        return JSONResponse(
            {"error": {"code": error.code, "message": words.message, "fields": words.fields}},
            status_code=error.status,
        )
    response = Response(status_code=204)
    response.set_cookie(
        _cookie(holding_id), body.code, max_age=COOKIE_MAX_AGE, path=f"/passes/{holding_id}",
        httponly=True, samesite="lax", secure=request.app.state.pages.secure_cookies,
    )  # fmt: skip
    return response


async def pass_page(request: Request) -> Response:
    holding_id = _holding_id(request)
    code = request.cookies.get(_cookie(holding_id))
    if not code:
        return render(request, "passes_holding.html", {"held": None, "holding_id": holding_id})
    return await _render(request, holding_id, code, errors=None)


async def _render(
    request: Request, holding_id: str, code: str, *, errors: Any, status: int = 200
) -> Response:
    now = request.app.state.resources.clock.now()
    held = await in_unit_of_work(request, lambda uow: views.holder_pass(uow, holding_id, code, now))
    context = {"held": held, "holding_id": holding_id, "errors": errors}
    return render(request, "passes_holding.html", context, status=status)


async def claim_event(request: Request) -> Response:
    """The Claim button: a ticket for the event, then back to the pass page."""
    holding_id = _holding_id(request)
    code = request.cookies.get(_cookie(holding_id))
    form = await read_form(request)
    check_csrf(request, form)
    if not code:
        raise NotFound("No such pass.")
    event_id = form.get("event_id")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 32:
        raise NotFound("No such event.")
    resources = request.app.state.resources
    now = resources.clock.now()

    def work(uow: UnitOfWork) -> None:
        views.authorised(uow.session, holding_id, code)
        claims.claim(uow, resources.settings, holding_id, event_id, now)

    try:
        await in_unit_of_work(request, work)
    except ServiceError as error:
        if error.status == 404:
            raise
        words = CLAIM_REFUSED.get(error.code)
        refused = PageErrors(gettext(request, words)) if words else page_errors(request, error)
        return await _render(request, holding_id, code, errors=refused, status=error.status)
    return RedirectResponse(f"/passes/{holding_id}#event-{event_id}", status_code=303)


routes = [
    Route("/passes/{holding_id}", pass_page, methods=["GET"], include_in_schema=False),
    Route("/passes/{holding_id}/code", hand_over_code, methods=["POST"], include_in_schema=False),
    Route("/passes/{holding_id}/claim", claim_event, methods=["POST"], include_in_schema=False),
]
