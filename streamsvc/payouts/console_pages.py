"""Console pages of the payouts: /console/finance/payouts (run a payout for a period,
approve it, download the SEPA file, mark it paid; per line mark failed; held lines
with their reason) and a batch's payout advices. Finance and admin only; thin: the
services of runs.py, approval.py and advice.py do the work, in the caller's venue.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc.db import UnitOfWork
from streamsvc.errors import NotFound, ServiceError, ValidationFailed
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.payouts import advice, approval, reading, runs, setup
from streamsvc.payouts.details import mask
from streamsvc.staff.console import ADMIN, ConsoleCaller, console_caller, console_form, console_page
from streamsvc.venues.models import Venue
from streamsvc.web.errors import PageErrors, page_errors
from streamsvc.web.pdf import PDF_MEDIA_TYPE, render_pdf
from streamsvc.web.rendering import N_, gettext, language, render

FINANCE = frozenset({"admin", "finance"})
ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
DONE = ("run", "approved", "paid", "failed", "settings")
# Why a line is held or carried, or failed, in the page's words.
REASONS = {
    "no_details": N_("no payout details"),
    "invalid_iban": N_("the IBAN is not valid"),
    "unconfirmed": N_("changed details wait for another finance member's confirmation"),
    "not_sepa": N_("the account is outside the SEPA zone"),
    "not_eur": N_("SEPA transfers are in euros only"),
    "negative": N_("negative: netted against later amounts"),
    "below_threshold": N_("under the payout threshold: carried to a later run"),
}
ERRORS = {
    "approve_own_batch": N_("Another finance or admin member must approve a batch you ran."),
    "payout_nothing_due": N_("Nothing is due for this period: every party is paid up."),
    "payout_not_approved": N_("The batch must be approved first."),
    "payout_empty": N_("This batch pays nobody: its lines are all held."),
    "confirm_own_change": N_("Another finance member must confirm details you changed."),
    "nothing_to_confirm": N_("There are no payout details to confirm."),
    "payout_line_not_paid": N_("Only a line that is paid or on its way can fail."),
    "payout_rail_not_configured": None,  # the message names the setting: shown as it is
}


# The services' words beside a field, in the page's language.
FIELD_WORDS = {
    "not a valid IBAN": N_("not a valid IBAN"),
    "not a valid BIC": N_("not a valid BIC"),
    "does not belong to the IBAN's bank": N_("does not belong to the IBAN's bank"),
    "enter the account holder's name": N_("enter the account holder's name"),
    "a month as YYYY-MM": N_("a month as YYYY-MM"),
    "between the batch's day and today": N_("between the batch's day and today"),
    "enter a date": N_("enter a date"),
}


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.resources.clock.now()
    return now


def _settings(request: Request) -> Any:
    return request.app.state.resources.settings


def path_id(request: Request, name: str) -> str:
    value = request.path_params[name]
    if not isinstance(value, str) or not ID.fullmatch(value):
        raise NotFound("No such page.")
    return value


def words(request: Request, error: ServiceError) -> PageErrors:
    found = page_errors(request, error)
    for name, text in error.fields.items():
        if text in FIELD_WORDS:
            found.fields[name] = gettext(request, FIELD_WORDS[text])
    said = ERRORS.get(error.code)
    if said:
        found.message = gettext(request, said)
    elif error.code in ERRORS:
        found.message = error.message
    return found


def previous_month(now: datetime, timezone: str) -> str:
    first = now.astimezone(ZoneInfo(timezone)).date().replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def _field(form: Any, name: str, limit: int = 200) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _reason(request: Request, code: str) -> str:
    return gettext(request, REASONS[code]) if code in REASONS else code


# -- the payouts page ---------------------------------------------------------------------


def payouts_context(
    request: Request,
    uow: UnitOfWork,
    caller: ConsoleCaller,
    errors: PageErrors | None = None,
    entered: str = "",
) -> dict[str, Any]:
    session = uow.session
    venue = session.get(Venue, caller.venue_id)
    assert venue is not None
    done = request.query_params.get("done")
    return {
        "caller": caller,
        "venue": venue,
        "batches": reading.recent_batches(session, venue.id),
        "period": entered or previous_month(_now(request), venue.timezone),
        "waived": approval.four_eyes_waived(session, venue.id),
        "errors": errors or PageErrors(),
        "done": done if done in DONE else None,
        "waiting": [row for row in reading.parties(session, venue.id) if row.status != "ok"],
        "reason": lambda code: _reason(request, code),
        "settings": _settings(request),
    }


@console_page
async def payouts_page(request: Request) -> Response:
    def load(uow: UnitOfWork) -> dict[str, Any]:
        return payouts_context(request, uow, console_caller(request, uow.session, FINANCE))

    return render(request, "console/payouts.html", await in_unit_of_work(request, load))


@console_page
async def run_payout(request: Request) -> Response:
    form = await console_form(request)
    period = _field(form, "period", 20)
    settings = _settings(request)

    def work(uow: UnitOfWork) -> str:
        caller = console_caller(request, uow.session, FINANCE)
        batch = runs.run(
            uow.session,
            caller.venue_id,
            period,
            rail=setup.rail(settings),
            policy=setup.policy(settings),
            created_by=caller.person_id,
            now=_now(request),
        )
        return batch.id

    try:
        batch_id = await in_unit_of_work(request, work)
    except ServiceError as error:
        if error.status in (401, 403):
            raise
        found = words(request, error)

        def again(uow: UnitOfWork) -> dict[str, Any]:
            caller = console_caller(request, uow.session, FINANCE)
            return payouts_context(request, uow, caller, found, period)

        context = await in_unit_of_work(request, again)
        return render(request, "console/payouts.html", context, status=error.status)
    return RedirectResponse(f"/console/finance/payouts/{batch_id}?done=run", status_code=303)


@console_page
async def set_waiver(request: Request) -> Response:
    form = await console_form(request)

    def work(uow: UnitOfWork) -> None:
        caller = console_caller(request, uow.session, ADMIN)
        approval.set_four_eyes_waived(
            uow.session, caller.venue_id, form.get("four_eyes_waived") == "on", _now(request)
        )

    await in_unit_of_work(request, work)
    return RedirectResponse("/console/finance/payouts?done=settings", status_code=303)


# -- a batch ---------------------------------------------------------------------------------


def batch_context(
    request: Request,
    uow: UnitOfWork,
    caller: ConsoleCaller,
    batch_id: str,
    *,
    errors: PageErrors | None = None,
    form: str = "",
) -> dict[str, Any]:
    batch = runs.batch_of(uow.session, caller.venue_id, batch_id)
    lines = runs.lines_of(uow.session, batch.id)
    done = request.query_params.get("done")
    return {
        "caller": caller,
        "batch": batch,
        "lines": lines,
        "errors": errors or PageErrors(),
        "form": form,
        "done": done if done in DONE else None,
        "paying": [line for line in lines if line.status in ("pending", "paid", "failed")],
        "held": [line for line in lines if line.status == "held"],
        "carried": [line for line in lines if line.status == "carried"],
        "may_approve": batch.status == "awaiting_approval" and batch.total > 0,
        # A co-production line pays this venue's share from a lead venue's books: named.
        "lead_names": {
            line.venue_id: _venue_name(uow, line.venue_id)
            for line in lines
            if line.venue_id != batch.venue_id
        },
        "own_batch": batch.created_by == caller.person_id,
        "today": _now(request).date().isoformat(),
        "mask": mask,
        "reason": lambda code: _reason(request, code),
    }


def _venue_name(uow: UnitOfWork, venue_id: str) -> str:
    venue = uow.session.get(Venue, venue_id)
    return venue.name if venue is not None else venue_id


@console_page
async def batch_page(request: Request) -> Response:
    batch_id = path_id(request, "batch_id")

    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, FINANCE)
        return batch_context(request, uow, caller, batch_id)

    return render(request, "console/payouts_batch.html", await in_unit_of_work(request, load))


Act = Callable[[UnitOfWork, ConsoleCaller, Any], None]


async def batch_action(request: Request, name: str, act: Act) -> Response:
    """Run one form of the batch page: 303 back when it worked, else the page again
    with the words beside form `name`."""
    batch_id = path_id(request, "batch_id")
    form = await console_form(request)

    def work(uow: UnitOfWork) -> None:
        act(uow, console_caller(request, uow.session, FINANCE), form)

    try:
        await in_unit_of_work(request, work)
    except ServiceError as error:
        if error.status in (401, 404) or error.code in ("forbidden", "csrf_failed"):
            raise
        found = words(request, error)

        def again(uow: UnitOfWork) -> dict[str, Any]:
            caller = console_caller(request, uow.session, FINANCE)
            return batch_context(request, uow, caller, batch_id, errors=found, form=name)

        context = await in_unit_of_work(request, again)
        return render(request, "console/payouts_batch.html", context, status=error.status)
    return RedirectResponse(f"/console/finance/payouts/{batch_id}?done={name}", status_code=303)


@console_page
async def approve_batch(request: Request) -> Response:
    batch_id = path_id(request, "batch_id")

    def act(uow: UnitOfWork, caller: ConsoleCaller, form: Any) -> None:
        approval.approve(
            uow.session, caller.venue_id, batch_id, approved_by=caller.person_id, now=_now(request)
        )

    return await batch_action(request, "approved", act)


@console_page
async def mark_paid(request: Request) -> Response:
    batch_id = path_id(request, "batch_id")

    def act(uow: UnitOfWork, caller: ConsoleCaller, form: Any) -> None:
        try:
            executed_on = date.fromisoformat(_field(form, "executed_on", 10))
        except ValueError:
            raise ValidationFailed(
                "The form has errors.", fields={"executed_on": "enter a date"}
            ) from None
        runs.mark_paid(
            uow.session,
            caller.venue_id,
            batch_id,
            executed_on=executed_on,
            paid_by=caller.person_id,
            now=_now(request),
        )

    return await batch_action(request, "paid", act)


@console_page
async def mark_failed(request: Request) -> Response:
    batch_id = path_id(request, "batch_id")
    line_id = path_id(request, "line_id")

    def act(uow: UnitOfWork, caller: ConsoleCaller, form: Any) -> None:
        runs.mark_failed(
            uow.session,
            caller.venue_id,
            batch_id,
            line_id,
            reason=_field(form, "reason", 40) or "returned",
            now=_now(request),
        )

    return await batch_action(request, "failed", act)


@console_page
async def download_file(request: Request) -> Response:
    batch_id = path_id(request, "batch_id")
    settings = _settings(request)

    def work(uow: UnitOfWork) -> Any:
        caller = console_caller(request, uow.session, FINANCE)
        return approval.download(
            uow.session, caller.venue_id, batch_id, rail=setup.rail(settings), now=_now(request)
        )

    made = await in_unit_of_work(request, work)
    return Response(
        made.content,
        media_type=made.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{made.filename}"',
            "Cache-Control": "no-store",
        },
    )


async def _advice_html(request: Request) -> tuple[str, str]:
    batch_id, line_id = path_id(request, "batch_id"), path_id(request, "line_id")

    def work(uow: UnitOfWork) -> tuple[str, str]:
        caller = console_caller(request, uow.session, FINANCE)
        batch, line = advice.line_of(uow.session, caller.venue_id, batch_id, line_id)
        if line.status not in ("pending", "paid"):
            raise NotFound("This line pays nothing: it has no advice.")
        html = advice.render(uow.session, batch, line, language(request))
        return html, f"payout-advice-{batch.period}-{line.id}"

    return await in_unit_of_work(request, work)


@console_page
async def advice_page(request: Request) -> Response:
    html, _ = await _advice_html(request)
    return Response(
        html, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"}
    )


@console_page
async def advice_pdf(request: Request) -> Response:
    html, name = await _advice_html(request)
    return Response(
        render_pdf(html),
        media_type=PDF_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{name}.pdf"',
            "Cache-Control": "no-store",
        },
    )


def _route(path: str, handler: Any, method: str) -> Route:
    return Route(path, handler, methods=[method], include_in_schema=False)


BATCH = "/console/finance/payouts/{batch_id}"
routes = [
    _route("/console/finance/payouts", payouts_page, "GET"),
    _route("/console/finance/payouts", run_payout, "POST"),
    _route("/console/finance/payouts/settings", set_waiver, "POST"),
    _route(BATCH, batch_page, "GET"),
    _route(f"{BATCH}/approve", approve_batch, "POST"),
    _route(f"{BATCH}/sepa.xml", download_file, "GET"),
    _route(f"{BATCH}/paid", mark_paid, "POST"),
    _route(f"{BATCH}/lines/{{line_id}}/failed", mark_failed, "POST"),
    _route(f"{BATCH}/lines/{{line_id}}/advice.html", advice_page, "GET"),
    _route(f"{BATCH}/lines/{{line_id}}/advice.pdf", advice_pdf, "GET"),
]
