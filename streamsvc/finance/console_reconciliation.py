"""/console/finance/reconciliation: start a reconciliation run (runs.py, a job a worker
carries out), follow its progress (static/js/console-finance.js polls the job), read
the findings (open, acknowledged or all; a page at a time) and acknowledge one with a
note after a confirmation (finding_review.py: audit-logged, the ledger untouched).
Finance and admin only.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, cast
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc.catalog.models import Event
from streamsvc.db import UnitOfWork
from streamsvc.errors import ValidationFailed
from streamsvc.finance import finding_review, runs
from streamsvc.finance.console_pages import FINANCE, now_of, path_id
from streamsvc.finance.reconciliation import KIND
from streamsvc.finance.schemas import ReconciliationCreate
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.jobs.models import Job
from streamsvc.jobs.service import get_job, public
from streamsvc.staff.console import ConsoleCaller, console_caller, console_form, console_page
from streamsvc.staff.words import errors_of
from streamsvc.venues.models import Venue
from streamsvc.web.errors import PageErrors
from streamsvc.web.rendering import N_, gettext, render

KINDS = {
    "missing_in_stripe": N_("Missing at Stripe"),
    "amount_mismatch": N_("Amounts differ"),
    "currency_mismatch": N_("Currencies differ"),
    "unbalanced": N_("Net is not amount less fee"),
    "changed_in_stripe": N_("Changed at Stripe"),
    "unknown_charge": N_("Charge matching no order"),
    "ledger_mismatch": N_("Ledger differs from Stripe"),
    "unknown_in_payout": N_("Paid out, but none of ours"),
    "pass_refund_unallocated": N_("Pass refund beyond its unplayed events"),
    "payout_mismatch": N_("Payout amount differs from what it pays out"),
}
SHOWN = {"open": N_("Open"), "acknowledged": N_("Acknowledged"), "all": N_("All")}
FIELD_WORDS = {
    "Field required": N_("Please write a note."),
    f"at most {finding_review.NOTE_MAX}": N_("at most 1000 characters"),
    "confirm": N_("Tick the box to confirm."),
    "enter a date": N_("enter a date"),
    "must be before to": N_("must not be after the last day"),
    "not an event of this venue": N_("not an event of this venue"),
}
RECENT_RUNS = 5


def _words(request: Request, error: ValidationFailed | None) -> PageErrors:
    words = errors_of(request, error)
    if error is not None:
        for name, text in error.fields.items():
            if text in FIELD_WORDS:
                words.fields[name] = gettext(request, FIELD_WORDS[text])
    return words


def _timezone(uow: UnitOfWork, caller: ConsoleCaller) -> str:
    venue = uow.session.get(Venue, caller.venue_id)
    assert venue is not None
    return venue.timezone


def _page_context(
    request: Request, uow: UnitOfWork, caller: ConsoleCaller, *, errors: PageErrors | None = None,
    start: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    params = request.query_params
    shown = params.get("show", "open")
    if shown not in SHOWN:
        shown = "open"
    cursor = params.get("cursor", "")[:200] or None
    rows, next_cursor = finding_review.findings_page(
        uow.session, caller.venue_id, cast(finding_review.Shown, shown), cursor
    )
    job = None
    job_id = params.get("job", "")[:40]
    if job_id:
        found = get_job(uow.session, caller.venue_id, job_id)
        job = public(found) if found.kind == KIND else None
    recent = [public(run) for run in uow.session.exec(
        select(Job).where(Job.venue_id == caller.venue_id, Job.kind == KIND)
        .order_by(col(Job.created_at).desc(), col(Job.id).desc()).limit(RECENT_RUNS))]  # fmt: skip
    events = list(uow.session.exec(select(Event).where(Event.venue_id == caller.venue_id)
                                   .order_by(col(Event.starts_at).desc()).limit(500)))  # fmt: skip
    venue = uow.session.get(Venue, caller.venue_id)
    assert venue is not None
    today = now_of(request).astimezone(ZoneInfo(venue.timezone)).date()
    next_url = None
    if next_cursor:
        next_url = "/console/finance/reconciliation?" + urlencode(
            {"show": shown, "cursor": next_cursor})  # fmt: skip
    return {
        "caller": caller, "findings": rows, "shown": shown, "shown_names": SHOWN,
        "kinds": KINDS, "next_url": next_url, "job": job, "recent": recent, "events": events,
        "timezone": venue.timezone,
        "errors": errors or PageErrors(), "done": params.get("done", "") == "acknowledged",
        "start": start or {"event": "", "from": (today - timedelta(days=30)).isoformat(),
                           "to": today.isoformat()},
    }  # fmt: skip


@console_page
async def reconciliation_page(request: Request) -> Response:
    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, FINANCE)
        return _page_context(request, uow, caller)

    return render(request, "console/finance_reconciliation.html",
                  await in_unit_of_work(request, load))  # fmt: skip


def _start_request(fields: dict[str, str], venue: Venue, uow: UnitOfWork) -> ReconciliationCreate:
    """The form as a reconciliation: one event, else the days' activity (venue days)."""
    if fields["event"]:
        found = uow.session.exec(select(Event.id).where(
            Event.id == fields["event"], Event.venue_id == venue.id)).first()  # fmt: skip
        if found is None:
            raise ValidationFailed("The form has errors.",
                                   fields={"event": "not an event of this venue"})  # fmt: skip
        return ReconciliationCreate(event_id=fields["event"])
    problems: dict[str, str] = {}
    days: list[date] = []
    for name in ("from", "to"):
        try:
            days.append(date.fromisoformat(fields[name]))
        except ValueError:
            problems[name] = "enter a date"
    if problems:
        raise ValidationFailed("The form has errors.", fields=problems)
    zone = ZoneInfo(venue.timezone)
    since = datetime.combine(days[0], time(), zone)
    until = datetime.combine(days[1] + timedelta(days=1), time(), zone)
    return ReconciliationCreate.model_validate({"from": since, "to": until})


@console_page
async def start_reconciliation(request: Request) -> Response:
    form = await console_form(request)
    fields = {name: str(form.get(name, ""))[:40].strip() for name in ("event", "from", "to")}
    settings = request.app.state.resources.settings

    def start(uow: UnitOfWork) -> str | dict[str, Any]:
        caller = console_caller(request, uow.session, FINANCE)
        venue = uow.session.get(Venue, caller.venue_id)
        assert venue is not None
        try:
            asked = _start_request(fields, venue, uow)
            job = runs.start_reconciliation(
                uow, caller.venue_id, asked, now_of(request),
                lookback_hours=settings.reconcile_lookback_hours,
            )  # fmt: skip
        except ValidationFailed as error:
            return _page_context(request, uow, caller, errors=_words(request, error),
                                 start=fields)  # fmt: skip
        return job.id

    found = await in_unit_of_work(request, start)
    if isinstance(found, dict):
        return render(request, "console/finance_reconciliation.html", found, status=422)
    return RedirectResponse(f"/console/finance/reconciliation?job={found}", status_code=303)


@console_page
async def finding_page(request: Request) -> Response:
    finding_id = path_id(request, "finding_id")

    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, FINANCE)
        row = finding_review.reviewed(uow.session, caller.venue_id, finding_id)
        return {"caller": caller, "kinds": KINDS, "errors": PageErrors(), "note": "", "row": row,
                "timezone": _timezone(uow, caller)}  # fmt: skip

    return render(request, "console/finance_finding.html", await in_unit_of_work(request, load))


@console_page
async def acknowledge_finding(request: Request) -> Response:
    finding_id = path_id(request, "finding_id")
    form = await console_form(request)
    note = str(form.get("note", ""))[: finding_review.NOTE_MAX + 1000]
    confirmed = form.get("confirm") == "yes"

    def acknowledge(uow: UnitOfWork) -> dict[str, Any] | None:
        caller = console_caller(request, uow.session, FINANCE)
        try:
            if not confirmed:
                raise ValidationFailed("The form has errors.", fields={"confirm": "confirm"})
            finding_review.acknowledge(uow.session, caller.venue_id, finding_id,
                                       person_id=caller.person_id, note=note,
                                       now=now_of(request))  # fmt: skip
        except ValidationFailed as error:
            row = finding_review.reviewed(uow.session, caller.venue_id, finding_id)
            words = _words(request, error)
            return {"caller": caller, "kinds": KINDS, "row": row, "note": note, "errors": words,
                    "timezone": _timezone(uow, caller)}  # fmt: skip
        return None

    found = await in_unit_of_work(request, acknowledge)
    if found is not None:
        return render(request, "console/finance_finding.html", found, status=422)
    return RedirectResponse("/console/finance/reconciliation?done=acknowledged", status_code=303)


def _route(path: str, handler: Any, method: str = "GET") -> Route:
    return Route(path, handler, methods=[method], include_in_schema=False)


routes = [
    _route("/console/finance/reconciliation", reconciliation_page),
    _route("/console/finance/reconciliation", start_reconciliation, "POST"),
    _route("/console/finance/reconciliation/findings/{finding_id}", finding_page),
    _route("/console/finance/reconciliation/findings/{finding_id}", acknowledge_finding, "POST"),
]
