"""Console pages of recordings: /console/recordings, /new and /{recording_id}.

The recording page is guided in the order of the publish check (service.py
`completeness_problems`): the recording and its rights, its performers, its offers,
its rights holders and split rule (with a preview of a sample sale), then publishing
and withdrawing. Thin: the same services as the JSON API; what a human typed is read
by console_forms.py. Admins edit; finance reads; door staff see none of it (403).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc.catalog import console_inputs as inputs
from streamsvc.catalog import events, performers
from streamsvc.catalog.schemas import EventListQuery, PerformerCreate
from streamsvc.db import UnitOfWork
from streamsvc.errors import NotFound, ServiceError, ValidationFailed
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.kit.pagination import PageQuery
from streamsvc.payments.minimums import charge_minimum
from streamsvc.recordings import console_forms as forms
from streamsvc.recordings import offers, rights, sales, service
from streamsvc.recordings.models import Recording
from streamsvc.recordings.pages import licence_choices
from streamsvc.recordings.schemas import (
    RecordingCreate,
    RecordingListQuery,
    RecordingUpdate,
)
from streamsvc.staff.console import ADMIN, ConsoleCaller, console_caller, console_form, console_page
from streamsvc.web.errors import PageErrors, page_errors
from streamsvc.web.formatting import money
from streamsvc.web.rendering import N_, gettext, language, render

ADMIN_FINANCE = frozenset({"admin", "finance"})
ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
QUALITIES = ("sd", "hd", "uhd")
CHECKLIST = {
    "playback": N_("Set the origin URL of the media."),
    "offers": N_("Offer the recording: a rental, a purchase, or free."),
    "split_rule": N_("Set a split rule: the recording is sold."),
}
MESSAGES = {
    "recording_published": N_("The recording is already published."),
    "recording_not_published": N_("Only a published recording can be withdrawn."),
    "recording_needs_offer": N_(
        "A published recording needs an offer; withdraw it to stop offering it."
    ),
    "recording_incomplete": N_("A published recording needs the origin URL of its media."),
}
FIELD_WORDS = {
    **{said: said for said in (inputs.NOT_AN_AMOUNT, inputs.TOO_MANY_DECIMALS,
                               inputs.NOT_A_PERCENT, inputs.NOT_A_WHOLE_NUMBER)},
    forms.NOT_A_DURATION: N_("enter a duration such as 1:32:00"),
    "give someone a share": N_("give someone a share"),
    "no such event": N_("choose one of your events"),
    "no such performer": N_("choose one of your performers"),
    "no such rights holder": N_("choose one of your rights holders"),
    "this party already has a share": N_("this party already has a share"),
    "a free recording is not also sold: remove the rental and purchase": N_(
        "a free recording is not also sold: remove the rental and purchase"
    ),
    "no query, fragment or credentials": N_("only the address of the origin, such as https://origin.example.org"),
    "a published recording needs it": N_("a published recording needs it"),
    "a published recording needs an offer: withdraw it instead": N_(
        "a published recording needs an offer: withdraw it instead"
    ),
}  # fmt: skip
_AT_LEAST = re.compile(r"^at least (\d+) ")
_SUM = re.compile(r"^shares sum to (\d+) basis points")


def path_id(request: Request, name: str = "recording_id") -> str:
    value = request.path_params[name]
    if not isinstance(value, str) or not ID.fullmatch(value):
        raise NotFound("No such page.")
    return value


def words(request: Request, error: ServiceError, currency: str = "EUR") -> PageErrors:
    """The error in the page's words: our codes and field words translated."""
    found = page_errors(request, error)
    if error.code in MESSAGES:
        found.message = gettext(request, MESSAGES[error.code])
    lang = language(request)
    for name, said in error.fields.items():
        if said in FIELD_WORDS:
            found.fields[name] = gettext(request, FIELD_WORDS[said])
        elif _AT_LEAST.match(said):
            least = money(charge_minimum(currency), currency, lang)
            found.fields[name] = gettext(request, "at least %(amount)s", amount=least)
        elif match := _SUM.match(said):
            percent = inputs.percent(int(match.group(1)))
            found.fields[name] = gettext(
                request, "the shares add up to %(percent)s %%, not 100 %%", percent=percent
            )
    return found


@dataclass
class Editor:
    """Which form of the page failed, its words and what was typed into it."""

    form: str = ""
    errors: PageErrors = field(default_factory=PageErrors)
    entered: dict[str, str] = field(default_factory=dict)
    done: str | None = None


def _now(request: Request) -> Any:
    return request.app.state.resources.clock.now()


def _fields_context(request: Request, uow: UnitOfWork, caller: ConsoleCaller) -> dict[str, Any]:
    """What the recording's own fields need: the venue's events, licences, qualities."""
    listed = events.list_events(uow.session, caller.venue_id, EventListQuery(limit=100),
                                _now(request))  # fmt: skip
    return {
        "venue_events": [(e.id, e.title) for e in listed.data],
        "licences": licence_choices(request),
        "qualities": QUALITIES,
        "duration_input": forms.duration_input,
    }


def recording_context(
    request: Request, uow: UnitOfWork, caller: ConsoleCaller, recording_id: str, editor: Editor
) -> dict[str, Any]:
    session = uow.session
    recording = service.get_recording(session, caller.venue_id, recording_id)
    rule = rights.latest_rule(session, recording)
    offered = {o.kind.value: o for o in offers.active_offers(session, [recording.id]).get(
        recording.id, [])}  # fmt: skip
    parties = rights.parties_of(session, recording)
    problems = service.completeness_problems(session, recording)
    return {
        "caller": caller,
        "editing": caller.role == "admin",
        "recording": recording,
        "status": recording.status.value,
        "media_path": service.media_path(recording.id),
        "performers": performers.list_performers(session, caller.venue_id, PageQuery(limit=100)),
        "chosen": service.performer_ids_of(session, [recording.id]).get(recording.id, []),
        "offers": offered,
        "rule": rule,
        "parties": parties,
        "party_names": {f"{kind}:{pid}": name for kind, pid, name in parties},
        "cost_rows": forms.COST_ROWS,
        "preview": _preview(request, recording, rule, offered),
        "checklist": [
            gettext(request, CHECKLIST[key]) if key in CHECKLIST else f"{key}: {said}"
            for key, said in problems.items()
        ],
        "editor": editor,
        "major": lambda amount: inputs.major_units(amount, recording.currency),
        "percent": inputs.percent,
        "sales": _sales(request, uow, caller, recording.id),
        **_fields_context(request, uow, caller),
    }


def _sales(
    request: Request, uow: UnitOfWork, caller: ConsoleCaller, recording_id: str
) -> sales.RecordingSales:
    """The Sales section, at the page `?older=` names (the newest one if not ours)."""
    older = request.query_params.get("older", "")[:200] or None
    try:
        return sales.recording_sales(uow.session, caller.venue_id, recording_id, older=older)
    except ValidationFailed:
        return sales.recording_sales(uow.session, caller.venue_id, recording_id)


def _preview(
    request: Request, recording: Recording, rule: Any, offered: Mapping[str, Any]
) -> dict[str, Any] | None:
    """What each party gets of `?sample=` (VAT included, at the rate of the rental, else
    the purchase), under the rule in force; None without a rule."""
    if rule is None:
        return None
    typed = request.query_params.get("sample", "")[:20] or "100"
    sale = offered.get("rental") or offered.get("purchase")
    try:
        gross = inputs.minor_units(typed, recording.currency, "sample")
    except ValidationFailed:
        return {"typed": typed, "error": gettext(request, "enter an amount such as 15,00")}
    return {"typed": typed, "error": None,
            "result": rights.preview(rule, gross, sale.vat_rate_bps if sale else 0)}  # fmt: skip


# -- the pages ------------------------------------------------------------------------------


@console_page
async def list_page(request: Request) -> Response:
    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ADMIN_FINANCE)
        found = service.list_recordings(uow.session, caller.venue_id, RecordingListQuery(limit=100))
        return {"caller": caller, "recordings": found.data, "more": found.next_cursor is not None}

    return render(request, "console/recordings.html", await in_unit_of_work(request, load))


@console_page
async def new_page(request: Request) -> Response:
    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ADMIN)
        return {"caller": caller, "editor": Editor(), "recording": None,
                **_fields_context(request, uow, caller)}  # fmt: skip

    return render(request, "console/recordings_new.html", await in_unit_of_work(request, load))


@console_page
async def create(request: Request) -> Response:
    form = await console_form(request)

    def run(uow: UnitOfWork) -> str:
        caller = console_caller(request, uow.session, ADMIN)
        body: RecordingCreate = forms.validated(RecordingCreate, forms.recording_fields(form))
        return service.create_recording(uow.session, caller.venue_id, body, _now(request)).id

    try:
        recording_id = await in_unit_of_work(request, run)
    except ServiceError as caught:
        error = caught
        if error.status in (401, 403):
            raise
        editor = Editor("recording", words(request, error), _typed(form))

        def again(uow: UnitOfWork) -> dict[str, Any]:
            caller = console_caller(request, uow.session, ADMIN)
            return {"caller": caller, "editor": editor, "recording": None,
                    **_fields_context(request, uow, caller)}  # fmt: skip

        context = await in_unit_of_work(request, again)
        return render(request, "console/recordings_new.html", context, status=error.status)
    return RedirectResponse(f"/console/recordings/{recording_id}?done=created", status_code=303)


def _typed(form: FormData) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


@console_page
async def recording_page(request: Request) -> Response:
    recording_id = path_id(request)
    done = request.query_params.get("done")
    editor = Editor(done=done if done and ID.fullmatch(done) else None)

    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ADMIN_FINANCE)
        return recording_context(request, uow, caller, recording_id, editor)

    return render(request, "console/recordings_edit.html", await in_unit_of_work(request, load))


Act = Callable[[UnitOfWork, ConsoleCaller, Recording, FormData], None]


async def recording_action(request: Request, name: str, act: Act) -> Response:
    """Run one form of the recording page as an admin: 303 back to the page when it
    worked, else the page again (status of the error) with the words beside form `name`."""
    recording_id = path_id(request)
    form = await console_form(request)
    currency = "EUR"

    def run(uow: UnitOfWork) -> None:
        nonlocal currency
        caller = console_caller(request, uow.session, ADMIN)
        recording = service.get_recording(uow.session, caller.venue_id, recording_id)
        currency = recording.currency
        act(uow, caller, recording, form)

    try:
        await in_unit_of_work(request, run)
    except ServiceError as error:
        if error.status in (401, 403, 404):
            raise
        editor = Editor(name, words(request, error, currency), _typed(form))

        def again(uow: UnitOfWork) -> dict[str, Any]:
            caller = console_caller(request, uow.session, ADMIN)
            return recording_context(request, uow, caller, recording_id, editor)

        context = await in_unit_of_work(request, again)
        return render(request, "console/recordings_edit.html", context, status=error.status)
    return RedirectResponse(f"/console/recordings/{recording_id}?done={name}#{name}",
                            status_code=303)  # fmt: skip


@console_page
async def update(request: Request) -> Response:
    def act(uow: UnitOfWork, caller: ConsoleCaller, recording: Recording, form: FormData) -> None:
        body: RecordingUpdate = forms.validated(RecordingUpdate, forms.recording_fields(form))
        service.update_recording(uow.session, caller.venue_id, recording.id, body, _now(request))

    return await recording_action(request, "recording", act)


@console_page
async def set_performers(request: Request) -> Response:
    def act(uow: UnitOfWork, caller: ConsoleCaller, recording: Recording, form: FormData) -> None:
        chosen = [v for v in form.getlist("performer_ids") if isinstance(v, str)][:100]
        name, email = forms.text(form, "new_name", 300), forms.text(form, "new_email", 300)
        if name or email:
            new: PerformerCreate = forms.validated(PerformerCreate, {"name": name, "email": email})
            chosen.append(
                performers.create_performer(uow.session, caller.venue_id, new, _now(request)).id
            )
        body: RecordingUpdate = forms.validated(RecordingUpdate, {"performer_ids": chosen})
        service.update_recording(uow.session, caller.venue_id, recording.id, body, _now(request))

    return await recording_action(request, "performers", act)


@console_page
async def set_offers(request: Request) -> Response:
    def act(uow: UnitOfWork, caller: ConsoleCaller, recording: Recording, form: FormData) -> None:
        body = forms.offers_from(form, recording.currency)
        offers.set_offers(uow.session, caller.venue_id, recording.id, body, _now(request))

    return await recording_action(request, "offers", act)


@console_page
async def add_holder(request: Request) -> Response:
    def act(uow: UnitOfWork, caller: ConsoleCaller, recording: Recording, form: FormData) -> None:
        rights.create_holder(uow.session, caller.venue_id, forms.holder_from(form), _now(request))

    return await recording_action(request, "holders", act)


@console_page
async def set_split_rule(request: Request) -> Response:
    def act(uow: UnitOfWork, caller: ConsoleCaller, recording: Recording, form: FormData) -> None:
        parties = rights.parties_of(uow.session, recording)
        body = forms.split_rule_from(form, parties, recording.currency)
        rights.put_split_rule(uow.session, caller.venue_id, recording.id, body, _now(request))

    return await recording_action(request, "split", act)


@console_page
async def publish(request: Request) -> Response:
    def act(uow: UnitOfWork, caller: ConsoleCaller, recording: Recording, form: FormData) -> None:
        service.publish(uow.session, caller.venue_id, recording.id, _now(request))

    return await recording_action(request, "publish", act)


@console_page
async def withdraw(request: Request) -> Response:
    def act(uow: UnitOfWork, caller: ConsoleCaller, recording: Recording, form: FormData) -> None:
        service.withdraw(uow.session, caller.venue_id, recording.id, _now(request))

    return await recording_action(request, "withdraw", act)


def _route(path: str, handler: Any, method: str) -> Route:
    return Route(path, handler, methods=[method], include_in_schema=False)


routes = [
    _route("/console/recordings", list_page, "GET"),
    _route("/console/recordings", create, "POST"),
    # Before {recording_id}, which "new" would otherwise be taken for.
    _route("/console/recordings/new", new_page, "GET"),
    _route("/console/recordings/{recording_id}", recording_page, "GET"),
    _route("/console/recordings/{recording_id}", update, "POST"),
    _route("/console/recordings/{recording_id}/performers", set_performers, "POST"),
    _route("/console/recordings/{recording_id}/offers", set_offers, "POST"),
    _route("/console/recordings/{recording_id}/rights-holders", add_holder, "POST"),
    _route("/console/recordings/{recording_id}/split-rule", set_split_rule, "POST"),
    _route("/console/recordings/{recording_id}/publish", publish, "POST"),
    _route("/console/recordings/{recording_id}/withdraw", withdraw, "POST"),
]
