"""/console/finance/exports: the split export as a form (period, event or recording,
party, format), and the statements of a party as HTML or PDF. Finance and admin only.

CSV (for Dutch Excel: semicolons, decimal commas, a byte order mark; or plain), JSON
and small XLSX exports download at once, streamed from the export service
(exports.py, export_files.py, export_csv.py, as GET /v1/finance/splits). An XLSX
export of more than STREAMSVC_EXPORT_JOB_ROWS rows, or any asked for as a job,
becomes an export job (export_jobs.py): the page follows its progress
(static/js/console-finance.js polls /console/jobs/{id}) and then links to the file,
which any API node serves from PostgreSQL until the link expires (410 afterwards).
Every download is audit-logged (`export.downloaded`), whoever asked and whatever the
format.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import IO, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from streamsvc import audit
from streamsvc.catalog.models import Event, Performer
from streamsvc.db import UnitOfWork
from streamsvc.errors import NotFound, ValidationFailed
from streamsvc.finance import export_csv, export_files, export_jobs, exports
from streamsvc.finance.console_pages import FINANCE, now_of, path_id
from streamsvc.finance.export_jobs import ExportAsk, LinkExpired
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.jobs.service import get_job, public
from streamsvc.recordings.models import Recording, RightsHolder
from streamsvc.staff.console import ConsoleCaller, console_caller, console_form, console_page
from streamsvc.staff.words import errors_of
from streamsvc.venues.models import Venue
from streamsvc.web.errors import PageErrors
from streamsvc.web.rendering import N_, gettext, render

FORMATS = {
    "csv_excel": N_("CSV for Dutch Excel (semicolons, decimal commas)"),
    "csv": N_("CSV (commas, decimal points)"),
    "xlsx": N_("XLSX (Excel workbook)"),
    "json": N_("JSON"),
}
# The form's words beside a field (the checks below write the English msgid).
FIELD_WORDS = {
    "enter a date": N_("enter a date"),
    "must not be before the first day": N_("must not be before the first day"),
    "at most ten years after the first day": N_("at most ten years after the first day"),
    "not an event of this venue": N_("not an event of this venue"),
    "not a recording of this venue": N_("not a recording of this venue"),
    "not a party of this venue": N_("not a party of this venue"),
    "choose a format": N_("choose a format"),
}
MAX_DAYS = 3700  # ten years and a bit: a period is bounded like any input
_PARTY = re.compile(r"^(venue|performer|rights_holder):[a-z]+_[0-9A-Za-z]{1,28}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _text(form: FormData | Any, name: str, limit: int = 80) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _day(value: str, field: str, problems: dict[str, str]) -> date | None:
    try:
        if _DAY.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    problems[field] = "enter a date"
    return None


def _choices(uow: UnitOfWork, venue: Venue) -> dict[str, Any]:
    """The venue's events, recordings and parties (its rights holders too) to choose from."""
    events = list(uow.session.exec(select(Event).where(Event.venue_id == venue.id)
                                   .order_by(col(Event.starts_at).desc()).limit(500)))  # fmt: skip
    recordings = list(uow.session.exec(
        select(Recording.id, Recording.title).where(Recording.venue_id == venue.id)
        .order_by(col(Recording.title), col(Recording.id)).limit(500)))  # fmt: skip
    performers = uow.session.exec(select(Performer.id, Performer.name)
                                  .where(Performer.venue_id == venue.id)
                                  .order_by(col(Performer.name)).limit(2000))  # fmt: skip
    holders = uow.session.exec(select(RightsHolder.id, RightsHolder.name)
                               .where(RightsHolder.venue_id == venue.id)
                               .order_by(col(RightsHolder.name)).limit(2000))  # fmt: skip
    parties = [(f"venue:{venue.id}", venue.name),
               *[(f"performer:{pid}", name) for pid, name in performers],
               *[(f"rights_holder:{hid}", name) for hid, name in holders]]  # fmt: skip
    return {"events": events, "recordings": recordings, "parties": parties}


def _ask(uow: UnitOfWork, venue: Venue, fields: dict[str, str]) -> ExportAsk:
    """The form's fields as an export request of this venue, or 422 naming the fields."""
    problems: dict[str, str] = {}
    first = _day(fields["from"], "from", problems)
    last = _day(fields["to"], "to", problems)
    if first and last and first > last:
        problems["to"] = "must not be before the first day"
    elif first and last and (last - first).days > MAX_DAYS:
        problems["to"] = "at most ten years after the first day"
    event_id = fields["event"] or None
    if event_id and uow.session.exec(select(Event.id).where(
            Event.id == event_id, Event.venue_id == venue.id)).first() is None:  # fmt: skip
        problems["event"] = "not an event of this venue"
    recording_id = fields["recording"] or None
    if recording_id and uow.session.exec(select(Recording.id).where(
            Recording.id == recording_id,
            Recording.venue_id == venue.id)).first() is None:  # fmt: skip
        problems["recording"] = "not a recording of this venue"
    party = fields["party"] or None
    if party and party not in {value for value, _ in _choices(uow, venue)["parties"]}:
        problems["party"] = "not a party of this venue"
    if fields["format"] not in FORMATS:
        problems["format"] = "choose a format"
    if problems or first is None or last is None:
        raise ValidationFailed("The form has errors.", fields=problems)
    return ExportAsk(first, last, event_id, party, recording_id)


def _form_fields(form: FormData | Any, today: date) -> dict[str, str]:
    month_start = today.replace(day=1).isoformat()
    return {"from": _text(form, "from", 20) or month_start,
            "to": _text(form, "to", 20) or today.isoformat(),
            "event": _text(form, "event", 40), "recording": _text(form, "recording", 40),
            "party": _text(form, "party", 80),
            "format": _text(form, "format", 20) or "csv_excel",
            "as_job": "1" if _text(form, "as_job", 5) else ""}  # fmt: skip


def _words(request: Request, error: ValidationFailed | None) -> PageErrors:
    """The error in the page's words, the form's own field words included."""
    words = errors_of(request, error)
    if error is not None:
        for name, text in error.fields.items():
            if text in FIELD_WORDS:
                words.fields[name] = gettext(request, FIELD_WORDS[text])
    return words


def _today(venue: Venue, now: datetime) -> date:
    return now.astimezone(ZoneInfo(venue.timezone)).date()


def _context(uow: UnitOfWork, caller: ConsoleCaller, venue: Venue, fields: dict[str, str],
             errors: Any) -> dict[str, Any]:  # fmt: skip
    return {"caller": caller, "venue": venue, "fields": fields, "errors": errors,
            "formats": FORMATS, "statement": None, **_choices(uow, venue)}  # fmt: skip


@console_page
async def exports_page(request: Request) -> Response:
    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, FINANCE)
        venue = uow.session.get(Venue, caller.venue_id)
        assert venue is not None
        fields = _form_fields(request.query_params, _today(venue, now_of(request)))
        return _context(uow, caller, venue, fields, _words(request, None))

    return render(request, "console/finance_exports.html", await in_unit_of_work(request, load))


def _downloaded(uow: UnitOfWork, venue_id: str, object_id: str, ask: ExportAsk, fmt: str,
                **more: Any) -> None:  # fmt: skip
    audit.record(
        uow.session, venue_id=venue_id, action="export.downloaded", object_type="export",
        object_id=object_id,
        changes={"format": fmt, "from": ask.first.isoformat(), "to": ask.last.isoformat(),
                 "event_id": ask.event_id, "recording_id": ask.recording_id,
                 "party": ask.party, **more},
    )  # fmt: skip


@console_page
async def export_splits(request: Request) -> Response:
    """POST the form: the file at once, or an export job and its page."""
    form = await console_form(request)
    settings = request.app.state.resources.settings
    engine = request.app.state.resources.database.engine

    Decided = tuple[ExportAsk, str, str | None, exports.SplitFilter] | dict[str, Any]

    def decide(uow: UnitOfWork) -> Decided:
        caller = console_caller(request, uow.session, FINANCE)
        venue = uow.session.get(Venue, caller.venue_id)
        assert venue is not None
        fields = _form_fields(form, _today(venue, now_of(request)))
        try:
            ask = _ask(uow, venue, fields)
        except ValidationFailed as error:  # the form again, with the words (nothing written)
            return _context(uow, caller, venue, fields, _words(request, error))
        fmt = fields["format"]
        where = export_jobs.split_filter(venue, ask)
        threshold = settings.export_job_rows
        if fmt == "xlsx" and (fields["as_job"] or export_jobs.count_rows(
                engine, where, cap=threshold + 1) > threshold):  # fmt: skip
            job = export_jobs.start_export(uow.session, venue.id, ask, now_of(request))
            return ask, fmt, job.id, where
        _downloaded(uow, venue.id, ask.filename, ask, fmt)
        return ask, fmt, None, where

    decided = await in_unit_of_work(request, decide)
    if isinstance(decided, dict):
        return render(request, "console/finance_exports.html", decided, status=422)
    ask, fmt, job_id, where = decided
    if job_id is not None:
        return RedirectResponse(f"/console/finance/exports/jobs/{job_id}", status_code=303)
    return await _stream(engine, where, ask, fmt)


async def _stream(engine: Any, where: exports.SplitFilter, ask: ExportAsk, fmt: str) -> Response:
    """The export as a download, streamed as its rows come from the ledger."""
    if fmt in ("csv", "csv_excel"):  # written by PostgreSQL (COPY), totals and all
        excel = fmt == "csv_excel"
        chunks = export_csv.csv_chunks(engine, where, delimiter=";" if excel else ",",
                                       decimal_comma=excel, bom=excel)  # fmt: skip
        return StreamingResponse(chunks, media_type="text/csv; charset=utf-8",
                                 headers=_attachment(f"{ask.filename}.csv"))  # fmt: skip
    source = exports.rows(engine, where)
    if fmt == "json":
        return StreamingResponse(export_files.json_chunks(source), media_type="application/json",
                                 headers=_attachment(f"{ask.filename}.json"))  # fmt: skip
    spool = await run_in_threadpool(export_files.xlsx_file, source)
    return StreamingResponse(_drain(spool), media_type=export_jobs.XLSX,
                             headers=_attachment(f"{ask.filename}.xlsx"))  # fmt: skip


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store"}  # fmt: skip


def _drain(spool: IO[bytes]) -> Iterator[bytes]:
    with spool:
        while chunk := spool.read(256 * 1024):
            yield chunk


@console_page
async def export_job_page(request: Request) -> Response:
    job_id = path_id(request, "job_id")

    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, FINANCE)
        job = get_job(uow.session, caller.venue_id, job_id)
        if job.kind != export_jobs.KIND:
            raise NotFound("No such export.")
        return {"caller": caller, "job": public(job), "ask": ExportAsk.from_result(job.result)}

    return render(request, "console/finance_export_job.html", await in_unit_of_work(request, load))


@console_page
async def export_job_file(request: Request) -> Response:
    """The job's file from PostgreSQL (any API node); 410 in words once expired."""
    job_id = path_id(request, "job_id")

    def load(uow: UnitOfWork) -> tuple[bytes, str, str] | dict[str, Any]:
        caller = console_caller(request, uow.session, FINANCE)
        try:
            stored = export_jobs.export_file(uow.session, caller.venue_id, job_id,
                                             now_of(request))  # fmt: skip
        except LinkExpired:
            return {"caller": caller}
        job = get_job(uow.session, caller.venue_id, job_id)
        _downloaded(uow, caller.venue_id, job_id, ExportAsk.from_result(job.result), "xlsx",
                    rows=stored.rows, filename=stored.filename)  # fmt: skip
        return stored.content, stored.media_type, stored.filename

    found = await in_unit_of_work(request, load)
    if isinstance(found, dict):
        return render(request, "console/finance_link_expired.html", found, status=410)
    content, media_type, filename = found
    return Response(content, media_type=media_type, headers=_attachment(filename))


@console_page
async def statement_link(request: Request) -> Response:
    """The statements form (GET): to the party's statement as HTML or PDF."""
    params = request.query_params
    fields = {"party": _text(params, "party"), "from": _text(params, "from", 20),
              "to": _text(params, "to", 20)}  # fmt: skip
    kind = "pdf" if _text(params, "as", 5) == "pdf" else "html"

    def check(uow: UnitOfWork) -> dict[str, Any] | str:
        caller = console_caller(request, uow.session, FINANCE)
        venue = uow.session.get(Venue, caller.venue_id)
        assert venue is not None
        problems: dict[str, str] = {}
        first = _day(fields["from"], "statement_from", problems)
        last = _day(fields["to"], "statement_to", problems)
        if first and last and first > last:
            problems["statement_to"] = "must not be before the first day"
        parties = {value for value, _ in _choices(uow, venue)["parties"]}
        if not _PARTY.fullmatch(fields["party"]) or fields["party"] not in parties:
            problems["statement_party"] = "not a party of this venue"
        if problems:
            error = ValidationFailed("The form has errors.", fields=problems)
            form = _form_fields({}, _today(venue, now_of(request)))
            context = _context(uow, caller, venue, form, _words(request, error))
            context["statement"] = fields
            return context
        party_type, party_id = fields["party"].split(":", 1)
        query = urlencode({"from": fields["from"], "to": fields["to"]})
        return f"/console/finance/statements/{party_type}/{party_id}.{kind}?{query}"

    found = await in_unit_of_work(request, check)
    if isinstance(found, str):
        return RedirectResponse(found, status_code=303)
    return render(request, "console/finance_exports.html", found, status=422)


def _route(path: str, handler: Any, method: str = "GET") -> Route:
    return Route(path, handler, methods=[method], include_in_schema=False)


routes = [
    _route("/console/finance/exports", exports_page),
    _route("/console/finance/exports", export_splits, "POST"),
    _route("/console/finance/exports/jobs/{job_id}", export_job_page),
    _route("/console/finance/exports/jobs/{job_id}/file", export_job_file),
    _route("/console/finance/statement", statement_link),
]
