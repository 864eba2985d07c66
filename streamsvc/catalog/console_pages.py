"""Console pages for setting up an event: /console/events/new and /console/events/{id}.

Guided in the order of the publish check (catalog/events.py `completeness_problems`):
the event itself (with its playback origin), its tiers, its performers, its split
rule, then the checklist and the Publish button. Thin: the same services as the JSON
API; what a human typed is read by console_inputs.py. Admins edit; finance sees the
event read-only; door staff see none of it (403).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc.catalog import console_inputs as inputs
from streamsvc.catalog import event_types, events, performers, split_rules, tiers
from streamsvc.catalog.coproducers import (
    CoProductionStatus,
    named_co_producers,
    pending_consents,
)
from streamsvc.catalog.listing_pushes import listing_of
from streamsvc.catalog.models import Event, SplitRule, Tier
from streamsvc.catalog.schemas import (
    EventCreate,
    EventUpdate,
    PerformerCreate,
    SplitRuleWrite,
    TierCreate,
    TierUpdate,
)
from streamsvc.db import UnitOfWork
from streamsvc.errors import NotFound, ServiceError, ValidationFailed, validation_failed
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.kit.pagination import PageQuery
from streamsvc.staff.console import ADMIN, ConsoleCaller, console_caller, console_form, console_page
from streamsvc.venues.models import Venue
from streamsvc.web.errors import PageErrors, page_errors
from streamsvc.web.formatting import money
from streamsvc.web.rendering import N_, gettext, language, ngettext, render

ADMIN_FINANCE = frozenset({"admin", "finance"})
ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
COST_ROWS = 5  # blank cost rows the split form offers
QUALITIES = ("sd", "hd", "uhd")

# The publish checklist in the page's words; a problem not named here shows the
# service's own words.
CHECKLIST = {
    "playback": N_("Set the origin URL of the stream."),
    "ends_at": N_("The end must be after the start, and not in the past."),
    "tiers": N_("Add at least one tier."),
    "split_rule": N_("Set a split rule."),
}
INPUT_WORDS = {
    inputs.NOT_AN_AMOUNT: N_("enter an amount such as 15,00"),
    inputs.TOO_MANY_DECIMALS: N_("too many decimals for this currency"),
    inputs.NOT_A_PERCENT: N_("enter a percentage such as 12,50"),
    inputs.NOT_A_TIME: N_("enter a date and time"),
    inputs.NOT_A_WHOLE_NUMBER: N_("enter a whole number"),
    # The catalogue's own words beside a field (events.py, tiers.py), and those of the
    # forms that answer with this page (co-producers, reschedule, embed origins).
    "the event has in-venue tiers": N_("the event has tiers with a seat in the venue"),
    "fixed while tickets are sold": N_("fixed while tickets are sold"),
    "in-venue tiers need a capacity": N_("a tier with a seat in the venue needs a capacity"),
    "in-venue tiers need a hybrid event": N_("a seat in the venue needs a hybrid event"),
    "required unless pay_what_you_want is set": N_("Please fill this in."),
    tiers.BOTH_OR_NEITHER: N_("choose a recording and its days together, or neither"),
    tiers.NOT_A_RECORDING: N_("choose one of your recordings"),
    "give someone a share": N_("give someone a share"),
    "set the origin URL of the stream": N_("set the origin URL of the stream"),
    "the event has already ended": N_("the event has already ended"),
    "sales must end by the end of the event": N_("sales must end by the end of the event"),
    "sales must start before the event ends": N_("sales must start before the event ends"),
    "must be after sales_start": N_("after the start of sales"),
    "give a venue id": N_("enter the co-producer's venue id"),
    "another venue's id": N_("enter another venue's id, not your own"),
    "no such venue": N_("no venue has this id"),
    "no such version": N_("no such version of the split rule"),
}
# Words with a number in them, matched (the number becomes a placeholder).
_SUM = re.compile(r"^shares sum to (\d+) basis points")
_AT_LEAST = re.compile(r"^at least (\d+)$")
_SOLD_AT_LEAST = re.compile(r"^at least (\d+) while tickets are sold$")
_FREE_OR_AT_LEAST = re.compile(r"^0 \(free\) or at least (\d+) ")
_NOT_AN_ORIGIN = re.compile(r"^not an origin: (.*)$", re.DOTALL)


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.resources.clock.now()
    return now


def text(form: Mapping[str, Any], name: str, limit: int = 10_000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def path_id(request: Request, name: str = "event_id") -> str:
    value = request.path_params[name]
    if not isinstance(value, str) or not ID.fullmatch(value):
        raise NotFound("No such page.")
    return value


def _validated(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc.errors()) from None


def words(request: Request, error: ServiceError, currency: str = "EUR") -> PageErrors:
    """The error in the page's words, with the input parsers' and the catalogue's words
    translated; amounts in `currency` (the event's)."""
    found = page_errors(request, error)
    for name, said in error.fields.items():
        if said in INPUT_WORDS:
            found.fields[name] = gettext(request, INPUT_WORDS[said])
        elif (counted := _counted_words(request, name, said, currency)) is not None:
            found.fields[name] = counted
    return found


def _counted_words(request: Request, name: str, said: str, currency: str) -> str | None:
    """The catalogue's words that carry a number (or what was typed), or None."""
    if match := _SUM.match(said):
        return gettext(request, "the shares add up to %(percent)s %%, not 100 %%",
                       percent=inputs.percent(int(match.group(1))))  # fmt: skip
    if match := _AT_LEAST.match(said):
        return gettext(request, "at least %(count)s", count=match.group(1))
    if match := _FREE_OR_AT_LEAST.match(said):
        return gettext(request, "0 (free) or at least %(amount)s",
                       amount=money(int(match.group(1)), currency, language(request)))  # fmt: skip
    if match := _NOT_AN_ORIGIN.match(said):
        return gettext(request, "not an address such as https://www.venue.example: %(typed)s",
                       typed=match.group(1))  # fmt: skip
    return _sold_words(request, name, said, currency)


def _sold_words(request: Request, name: str, said: str, currency: str) -> str | None:
    """What a tier with sales keeps (tiers.py): its price, its recording and its days."""
    if name == "recording_id" and said.endswith(" while tickets are sold"):
        return gettext(request, "the tickets sold include this recording: it stays included")
    if match := _SOLD_AT_LEAST.match(said):
        least = int(match.group(1))
        shown = (
            money(least, currency, language(request))
            if name == "price_amount"
            else ngettext(request, "%(num)s day", "%(num)s days", least)
        )
        return gettext(request, "at least %(least)s while tickets are sold", least=shown)
    return None


# -- reading forms into the services' schemas ---------------------------------------------


def event_fields(form: Mapping[str, Any], timezone: str) -> dict[str, Any]:
    """The event form as the fields of EventCreate / EventUpdate."""
    countries = [c.strip().upper() for c in re.split(r"[\s,;]+", text(form, "allowed_countries"))]
    data: dict[str, Any] = {
        "title": text(form, "title", 300),
        "description": text(form, "description"),
        "starts_at": inputs.utc_from_local(text(form, "starts_at", 40), timezone, "starts_at"),
        "ends_at": inputs.utc_from_local(text(form, "ends_at", 40), timezone, "ends_at"),
        "attendance_mode": text(form, "attendance_mode", 16),
        "doors_open_minutes": inputs.whole_number(
            text(form, "doors_open_minutes", 10) or "0", "doors_open_minutes", high=24 * 60
        ),
        "replay_hours": inputs.whole_number(
            text(form, "replay_hours", 10) or "0", "replay_hours", high=24 * 365
        ),
        "allowed_countries": [c for c in countries if c],
        "playback": text(form, "playback", 2000) or None,
        "uitdatabank_type": text(form, "uitdatabank_type", 20) or None,
    }
    return data


def tier_fields(form: Mapping[str, Any], currency: str) -> dict[str, Any]:
    """The tier form as the fields of TierCreate / TierUpdate."""
    capacity = text(form, "capacity", 12)
    extras = [e.strip().lower() for e in re.split(r"[\s,;]+", text(form, "extras", 500))]
    # Both blank: no recording included (and on a change, none any more); the days are
    # checked against their range by TierFields, which names the field.
    days = text(form, "recording_days", 12)
    return {
        "name": text(form, "name", 300),
        "price_amount": inputs.minor_units(
            text(form, "price_amount", 40), currency, "price_amount"
        ),
        "capacity": inputs.whole_number(capacity, "capacity", low=1) if capacity else None,
        "vat_rate_bps": inputs.basis_points(text(form, "vat_rate", 12) or "0", "vat_rate"),
        "access": {
            "quality": text(form, "quality", 8),
            "extras": [e for e in extras if e],
            "in_venue": form.get("in_venue") == "on",
            "max_devices": inputs.whole_number(
                text(form, "max_devices", 4) or "1", "max_devices", low=1, high=20
            ),
        },
        "recording_id": text(form, "recording_id", 40) or None,
        "recording_days": inputs.whole_number(days, "recording_days") if days else None,
    }


def split_rule_from(
    form: Mapping[str, Any], parties: list[tuple[str, str, str]], currency: str
) -> SplitRuleWrite:
    """The split form (percent shares, costs in major units) as a SplitRuleWrite.

    `parties` are (type, id, name) of who may share; a blank or zero share is no share."""
    shares = []
    for kind, party_id, _ in parties:
        name = f"share.{kind}.{party_id}"
        typed = text(form, name, 12)
        bps = inputs.basis_points(typed, name) if typed else 0
        # A guarantee (a versus deal, finance/deals.py): blank is none.
        guarantee = text(form, f"guarantee.{kind}.{party_id}", 40)
        if bps:
            shares.append({"party": {"type": kind, "id": party_id}, "bps": bps}
                          | ({"guarantee_amount": inputs.minor_units(
                              guarantee, currency, f"guarantee.{kind}.{party_id}")}
                             if guarantee else {}))  # fmt: skip
    costs = []
    for row in range(COST_ROWS):
        label, amount = text(form, f"cost_label_{row}", 300), text(form, f"cost_amount_{row}", 40)
        if label or amount:
            minor = inputs.minor_units(amount, currency, f"cost_amount_{row}")
            costs.append({"label": label, "amount": minor, "currency": currency})
    fee = text(form, "platform_fee", 12) or "0"
    data = {"platform_fee_bps": inputs.basis_points(fee, "platform_fee"),
            "costs": costs, "shares": shares}  # fmt: skip
    if not shares:
        raise ValidationFailed("The form has errors.", fields={"shares": "give someone a share"})
    rule: SplitRuleWrite = _validated(SplitRuleWrite, data)
    return rule


# -- the pages ------------------------------------------------------------------------------


@dataclass
class Editor:
    """Which form of the event page failed, its words and what was typed into it."""

    form: str = ""
    errors: PageErrors = field(default_factory=PageErrors)
    entered: dict[str, str] = field(default_factory=dict)
    done: str | None = None


def split_parties(session: Any, event: Event, venue: Venue) -> list[tuple[str, str, str]]:
    """(type, id, name) of who may share: the venue, the event's performers, then the
    venues that accepted to co-produce it (streamsvc/coproductions)."""
    ids = events.performer_ids_of(session, [event.id]).get(event.id, [])
    named = {p.id: p.name for p in performers.list_performers(
        session, event.venue_id, PageQuery(limit=100)).data}  # fmt: skip
    partners = [("venue", row.partner_venue_id, name)
                for row, name in named_co_producers(session, event.id)
                if row.status == CoProductionStatus.accepted]  # fmt: skip
    return ([("venue", venue.id, venue.name)]
            + [("performer", i, named.get(i, i)) for i in ids] + partners)  # fmt: skip


def event_context(
    request: Request, uow: UnitOfWork, caller: ConsoleCaller, event_id: str, editor: Editor
) -> dict[str, Any]:
    session, now = uow.session, _now(request)
    event = events.get_event(session, caller.venue_id, event_id)
    venue = session.get(Venue, caller.venue_id)
    assert venue is not None
    rule: SplitRule | None
    try:
        rule = split_rules.get_split_rule(session, caller.venue_id, event.id)
    except NotFound:
        rule = None
    chosen = events.performer_ids_of(session, [event.id]).get(event.id, [])
    problems = events.completeness_problems(session, event, now)
    settings = request.app.state.resources.settings
    return {
        "caller": caller,
        "editing": caller.role == "admin",
        "event": event,
        "status": events.status_of(event, now).value,
        "tiers": tiers.list_tiers(session, caller.venue_id, event.id),
        "performers": performers.list_performers(session, caller.venue_id, PageQuery(limit=100)),
        "chosen": chosen,
        "rule": rule,
        "parties": split_parties(session, event, venue),
        "cost_rows": COST_ROWS,
        "checklist": [
            gettext(request, CHECKLIST[key])
            if key in CHECKLIST
            else f"{key}: {gettext(request, INPUT_WORDS[said]) if said in INPUT_WORDS else said}"
            for key, said in problems.items()
        ],
        "editor": editor,
        "local": lambda moment: inputs.local_input(moment, event.timezone),
        "major": lambda amount: inputs.major_units(amount, event.currency),
        "percent": inputs.percent,
        "qualities": QUALITIES,
        "recordings": tiers.venue_recordings(session, caller.venue_id),
        "embed_url": f"{settings.public_url.rstrip('/')}/events/{event.id}",
        "embed_origins": list(getattr(venue, "embed_origins", None) or []),
        "event_types": event_types.options(language(request)),
        "listing": listing_of(session, event.id),
        "co_producers": named_co_producers(session, event.id),
        "waiting_for": [c.partner_venue_id for c in pending_consents(session, rule.id)]
        if rule
        else [],
        "uitdatabank_on": bool(settings.uitdatabank_url),
        "uitdatabank_place": venue.uitdatabank_place_id,
    }


@console_page
async def new_event_page(request: Request) -> Response:
    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ADMIN)
        venue = uow.session.get(Venue, caller.venue_id)
        assert venue is not None
        return {"caller": caller, "venue": venue, "editor": Editor(), "event": None,
                "event_types": event_types.options(language(request))}  # fmt: skip

    return render(request, "console/event_new.html", await in_unit_of_work(request, load))


@console_page
async def create_event(request: Request) -> Response:
    form = await console_form(request)

    def create(uow: UnitOfWork) -> str:
        caller = console_caller(request, uow.session, ADMIN)
        venue = uow.session.get(Venue, caller.venue_id)
        assert venue is not None
        data = {**event_fields(form, venue.timezone), "timezone": venue.timezone}
        body: EventCreate = _validated(EventCreate, data)
        return events.create_event(uow.session, caller.venue_id, body, _now(request)).id

    try:
        event_id = await in_unit_of_work(request, create)
    except ServiceError as caught:
        error = caught
        if error.status in (401, 403):
            raise
        typed = {k: v for k, v in form.items() if isinstance(v, str)}

        def again(uow: UnitOfWork) -> dict[str, Any]:
            caller = console_caller(request, uow.session, ADMIN)
            editor = Editor("event", words(request, error), typed)
            return {"caller": caller, "venue": uow.session.get(Venue, caller.venue_id),
                    "editor": editor, "event": None,
                    "event_types": event_types.options(language(request))}  # fmt: skip

        context = await in_unit_of_work(request, again)
        return render(request, "console/event_new.html", context, status=error.status)
    return RedirectResponse(f"/console/events/{event_id}?done=created", status_code=303)


@console_page
async def event_page(request: Request) -> Response:
    event_id = path_id(request)
    done = request.query_params.get("done")
    editor = Editor(done=done if done and ID.fullmatch(done) else None)

    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ADMIN_FINANCE)
        return event_context(request, uow, caller, event_id, editor)

    return render(request, "console/event.html", await in_unit_of_work(request, load))


Act = Callable[[UnitOfWork, ConsoleCaller, Event, FormData], None]


async def event_action(request: Request, name: str, act: Act) -> Response:
    """Run one form of the event page as an admin: 303 back to the page when it worked,
    else the page again (status of the error) with the words beside form `name`."""
    event_id = path_id(request)
    form = await console_form(request)

    def run(uow: UnitOfWork) -> None:
        caller = console_caller(request, uow.session, ADMIN)
        act(uow, caller, events.get_event(uow.session, caller.venue_id, event_id), form)

    try:
        await in_unit_of_work(request, run)
    except ServiceError as caught:
        error = caught
        if error.status in (401, 403, 404):
            raise
        entered = {k: v for k, v in form.items() if isinstance(v, str)}

        def again(uow: UnitOfWork) -> dict[str, Any]:
            caller = console_caller(request, uow.session, ADMIN)
            currency = events.get_event(uow.session, caller.venue_id, event_id).currency
            editor = Editor(name, words(request, error, currency), entered)
            return event_context(request, uow, caller, event_id, editor)

        context = await in_unit_of_work(request, again)
        return render(request, "console/event.html", context, status=error.status)
    return RedirectResponse(f"/console/events/{event_id}?done={name}#{name}", status_code=303)


@console_page
async def update_event(request: Request) -> Response:
    def act(uow: UnitOfWork, caller: ConsoleCaller, event: Event, form: FormData) -> None:
        body: EventUpdate = _validated(EventUpdate, event_fields(form, event.timezone))
        events.update_event(uow.session, caller.venue_id, event.id, body, _now(request))

    return await event_action(request, "event", act)


@console_page
async def add_tier(request: Request) -> Response:
    def act(uow: UnitOfWork, caller: ConsoleCaller, event: Event, form: FormData) -> None:
        body: TierCreate = _validated(TierCreate, tier_fields(form, event.currency))
        tiers.create_tier(uow.session, caller.venue_id, event.id, body, _now(request))

    return await event_action(request, "tier-new", act)


@console_page
async def change_tier(request: Request) -> Response:
    tier_id = path_id(request, "tier_id")

    def act(uow: UnitOfWork, caller: ConsoleCaller, event: Event, form: FormData) -> None:
        tier = uow.session.get(Tier, tier_id)
        if tier is None or tier.event_id != event.id:
            raise NotFound("No such tier.")
        body: TierUpdate = _validated(TierUpdate, tier_fields(form, event.currency))
        tiers.update_tier(uow.session, caller.venue_id, tier_id, body, _now(request))

    return await event_action(request, f"tier-{tier_id}", act)


@console_page
async def set_performers(request: Request) -> Response:
    def act(uow: UnitOfWork, caller: ConsoleCaller, event: Event, form: FormData) -> None:
        chosen = [v for v in form.getlist("performer_ids") if isinstance(v, str)][:100]
        name, email = text(form, "new_name", 300), text(form, "new_email", 300)
        if name or email:
            new: PerformerCreate = _validated(PerformerCreate, {"name": name, "email": email})
            chosen.append(
                performers.create_performer(uow.session, caller.venue_id, new, _now(request)).id
            )
        body: EventUpdate = _validated(EventUpdate, {"performer_ids": chosen})
        events.update_event(uow.session, caller.venue_id, event.id, body, _now(request))

    return await event_action(request, "performers", act)


@console_page
async def set_split_rule(request: Request) -> Response:
    def act(uow: UnitOfWork, caller: ConsoleCaller, event: Event, form: FormData) -> None:
        venue = uow.session.get(Venue, caller.venue_id)
        assert venue is not None
        parties = split_parties(uow.session, event, venue)
        body = split_rule_from(form, parties, event.currency)
        split_rules.put_split_rule(uow.session, caller.venue_id, event.id, body, _now(request))

    return await event_action(request, "split", act)


@console_page
async def publish(request: Request) -> Response:
    def act(uow: UnitOfWork, caller: ConsoleCaller, event: Event, form: FormData) -> None:
        events.publish(uow.session, caller.venue_id, event.id, _now(request))

    return await event_action(request, "publish", act)


def _route(path: str, handler: Any, method: str) -> Route:
    return Route(path, handler, methods=[method], include_in_schema=False)


routes = [
    _route("/console/events/new", new_event_page, "GET"),
    _route("/console/events", create_event, "POST"),
    _route("/console/events/{event_id}", event_page, "GET"),
    _route("/console/events/{event_id}", update_event, "POST"),
    _route("/console/events/{event_id}/tiers", add_tier, "POST"),
    _route("/console/events/{event_id}/tiers/{tier_id}", change_tier, "POST"),
    _route("/console/events/{event_id}/performers", set_performers, "POST"),
    _route("/console/events/{event_id}/split-rule", set_split_rule, "POST"),
    _route("/console/events/{event_id}/publish", publish, "POST"),
]
