"""The holder's pass page, `/passes/{holding_id}`: its events, a Claim button for each.

The pass code is a bearer secret (PAGES.md): the mail's link carries it in the
fragment, `#code=…`; static/js/pass.js hands it over once by POST
(`/passes/{id}/code`), which sets cookie `pass_<id>` (HttpOnly, Path=/passes/<id>),
and clears it from the address bar. Claiming is a form with a CSRF token; the page
comes back with the claimed ticket's Watch link. A transferable pass's holder may
transfer it (`POST /passes/{id}/transfer`, passes/transfer.py): the page then says to
whom (masked) and clears the cookie, whose code no longer opens the pass.
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
from streamsvc.kit.context import Actor, actor_var
from streamsvc.passes import claims, transfer, views
from streamsvc.passes.models import MAX_TRANSFERS
from streamsvc.web.csrf import check_csrf
from streamsvc.web.errors import PageErrors, page_errors
from streamsvc.web.forms import read_form
from streamsvc.web.rendering import N_, gettext, language, render

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
    request: Request, holding_id: str, code: str, *, errors: Any, status: int = 200,
    transfer_errors: PageErrors | None = None, entered_email: str = "",
) -> Response:  # fmt: skip
    now = request.app.state.resources.clock.now()
    held = await in_unit_of_work(request, lambda uow: views.holder_pass(uow, holding_id, code, now))
    context = {"held": held, "holding_id": holding_id, "errors": errors,
               "transfer_errors": transfer_errors or PageErrors(),
               "entered_email": entered_email, "max_transfers": MAX_TRANSFERS}  # fmt: skip
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


# Why a transfer was refused: above the form, or beside the field it concerns.
_TRANSFER_FIELDS = {"invalid_email": "email", "same_holder": "email"}


def _transfer_words(request: Request, error: ServiceError) -> PageErrors:
    words = page_errors(request, error)
    field = _TRANSFER_FIELDS.get(error.code)
    if field is not None:
        words.fields = {field: words.message}
        words.message = gettext(request, "Some fields need your attention.")
    return words


async def transfer_holding(request: Request) -> Response:
    """The transfer form: the pass to another address, then the page says so (masked)
    and the pass cookie goes; refused: the page again, the words beside the field."""
    holding_id = _holding_id(request)
    code = request.cookies.get(_cookie(holding_id))
    form = await read_form(request)
    check_csrf(request, form)
    if not code:
        raise NotFound("No such pass.")
    typed = form.get("email")
    email = typed[:320] if isinstance(typed, str) else ""
    resources = request.app.state.resources
    now, lang = resources.clock.now(), language(request)

    def work(uow: UnitOfWork) -> transfer.Transferred:
        # The pass code authorised the holder: the audit log names the holding.
        actor_var.set(Actor(kind="buyer", id=holding_id, label="buyer"))
        return transfer.transfer_pass(uow, holding_id, code, email, now,
                                      settings=resources.settings, locale=lang)  # fmt: skip

    if form.get("confirm") != "yes":
        refused = PageErrors(gettext(request, "Some fields need your attention."), {
            "confirm": gettext(request, "Confirm that you want to transfer the pass."),
        })  # fmt: skip
        try:  # a wrong address is said at the same time
            transfer.checked_address(email)
        except ServiceError as error:
            refused.fields.update(_transfer_words(request, error).fields)
        return await _render(request, holding_id, code, errors=None, status=422,
                             transfer_errors=refused, entered_email=email)  # fmt: skip
    try:
        done = await in_unit_of_work(request, work)
    except ServiceError as error:
        if error.status == 404:
            raise
        return await _render(request, holding_id, code, errors=None, status=error.status,
                             transfer_errors=_transfer_words(request, error),
                             entered_email=email)  # fmt: skip
    context = {"held": None, "holding_id": holding_id, "transferred_to": done.new_holder}
    response = render(request, "passes_holding.html", context)
    response.delete_cookie(_cookie(holding_id), path=f"/passes/{holding_id}",
                           httponly=True, samesite="lax",
                           secure=request.app.state.pages.secure_cookies)  # fmt: skip
    return response


routes = [
    Route("/passes/{holding_id}", pass_page, methods=["GET"], include_in_schema=False),
    Route("/passes/{holding_id}/code", hand_over_code, methods=["POST"], include_in_schema=False),
    Route("/passes/{holding_id}/claim", claim_event, methods=["POST"], include_in_schema=False),
    Route(
        "/passes/{holding_id}/transfer", transfer_holding, methods=["POST"], include_in_schema=False
    ),
]
