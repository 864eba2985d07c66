"""/console/passes: the venue's season passes. Admins create, edit and publish them and
choose the events of each series; finance reads them; door staff see nothing.

The same services as everywhere (passes/products.py, which writes the audit log; the
reads of console_service.py), under the console contract (staff/console.py). An event
may join a series later: only passes paid after it joined cover it and share their
money with it, which the page says beside the events. Every change raises
CatalogueChanged, so the catalogue's passes (listings/passes.py) are read again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc.catalog import console_inputs as inputs
from streamsvc.catalog.console_pages import text, words
from streamsvc.db import UnitOfWork, emit
from streamsvc.errors import NotFound, ServiceError, ValidationFailed
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.listings.events import CatalogueChanged
from streamsvc.passes import console_service, products
from streamsvc.passes.coverage import sync_date_range
from streamsvc.passes.models import Coverage, LateRefund, PassProduct, Weighting
from streamsvc.staff.console import ADMIN, ConsoleCaller, console_caller, console_form, console_page
from streamsvc.venues.models import Venue
from streamsvc.venues.tenancy import owned
from streamsvc.web.errors import PageErrors
from streamsvc.web.rendering import N_, gettext, render

READERS = frozenset({"admin", "finance"})
_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_DONE = ("created", "saved", "published", "withdrawn", "event_added", "event_removed")
# The products' words beside a field, in the page's language.
FIELD_WORDS = {
    "1 to 200 characters": N_("1 to 200 characters"),
    "at most 10000 characters": N_("at most 10000 characters"),
    "0 to 10000": N_("0 to 100 percent"),
    "an ISO 4217 code": N_("a currency code such as EUR"),
    "0 to 1000000, or empty for unlimited": N_("0 to 1000000, or empty for unlimited"),
    f"1 to {products.MAX_EVENTS}, or empty for every event": N_(
        "1 to 200, or empty for every event"
    ),
    "after the start of sales": N_("after the start of sales"),
    "a tier of the event": N_("a tier of the event"),
    "fixed once sold": N_("fixed once passes are sold"),
    "choose one": N_("choose one"),
    "required for a date range": N_("enter a date and time"),
    "after the start of the range": N_("after the start of the range"),
}
MESSAGES = {
    "pass_sold": N_(
        "Passes are sold: the price, VAT, currency and weighting stay as they are, "
        "and the events they cover stay in the pass."
    ),
    "pass_without_events": N_("Add at least one event before publishing the pass."),
    "pass_range_empty": N_(
        "No event of the venue that can be booked starts between the pass's dates yet."
    ),
    "event_over": N_("An ended or cancelled event cannot join a pass."),
    "too_many_events": N_("A pass covers at most 200 events."),
}
_AT_LEAST = re.compile(r"^at least (\d+)$")


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.resources.clock.now()
    return now


def _path_id(request: Request, name: str) -> str:
    value = request.path_params[name]
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise NotFound("No such page.")
    return value


def _words(request: Request, error: ServiceError) -> PageErrors:
    found = words(request, error)
    if error.code in MESSAGES:
        found.message = gettext(request, MESSAGES[error.code])
    for name, said in error.fields.items():
        if said in FIELD_WORDS:
            found.fields[name] = gettext(request, FIELD_WORDS[said])
        elif match := _AT_LEAST.match(said):
            found.fields[name] = gettext(request, "at least %(count)s", count=match.group(1))
    if "tier_id" in found.fields:  # said above the series too: its form may be gone
        found.message = gettext(request, "Choose an event: %(words)s.",
                                words=found.fields["tier_id"])  # fmt: skip
    return found


def _venue(uow: UnitOfWork, caller: ConsoleCaller) -> Venue:
    venue = uow.session.get(Venue, caller.venue_id)
    assert venue is not None  # the caller's membership names it
    return venue


# -- the pass form ----------------------------------------------------------------------


def _setup(form: FormData, timezone: str, currency: str) -> products.PassSetup:
    """The form as a PassSetup; every field that cannot be read is named at once."""
    problems: dict[str, str] = {}

    def read(name: str, parse: Callable[[], Any]) -> Any:
        try:
            return parse()
        except ValidationFailed as refused:
            problems.update(refused.fields or {name: inputs.NOT_A_WHOLE_NUMBER})
            return None

    chosen = text(form, "currency", 3).upper() or currency
    capacity, claims = text(form, "capacity", 12), text(form, "max_claims", 12)
    starts, ends = text(form, "sales_start", 40), text(form, "sales_end", 40)
    coverage = text(form, "coverage", 16) or Coverage.series.value
    # The dates count only for a date range: a series ignores what was typed in them.
    ranged = coverage == Coverage.date_range.value
    first, last = text(form, "covers_from", 40), text(form, "covers_until", 40)
    setup = {
        "price_amount": read("price", lambda: inputs.minor_units(
            text(form, "price", 40), chosen if chosen.isalpha() else currency, "price_amount")),
        "vat_rate_bps": read("vat_rate", lambda: inputs.basis_points(
            text(form, "vat_rate", 12) or "0", "vat_rate_bps")),
        "capacity": read("capacity", lambda: inputs.whole_number(
            capacity, "capacity", high=1_000_000) if capacity else None),
        "max_claims": read("max_claims", lambda: inputs.whole_number(
            claims, "max_claims", low=1, high=products.MAX_EVENTS) if claims else None),
        "sales_start": read("sales_start", lambda: inputs.utc_from_local(
            starts, timezone, "sales_start") if starts else None),
        "sales_end": read("sales_end", lambda: inputs.utc_from_local(
            ends, timezone, "sales_end") if ends else None),
        "covers_from": read("covers_from", lambda: inputs.utc_from_local(
            first, timezone, "covers_from") if ranged and first else None),
        "covers_until": read("covers_until", lambda: inputs.utc_from_local(
            last, timezone, "covers_until") if ranged and last else None),
    }  # fmt: skip
    weighting, late = text(form, "weighting", 16), text(form, "late_refund", 16)
    if weighting not in Weighting.__members__:
        problems["weighting"] = "choose one"
    if late not in LateRefund.__members__:
        problems["late_refund"] = "choose one"
    if coverage not in Coverage.__members__:
        problems["coverage"] = "choose one"
    if problems:
        raise ValidationFailed("The pass is not valid.", fields=problems)
    return products.PassSetup(
        name=text(form, "name", 201), description=text(form, "description", 10_001),
        currency=chosen, transferable=form.get("transferable") == "1",
        weighting=Weighting(weighting), late_refund=LateRefund(late),
        coverage=Coverage(coverage), **setup,
    )  # fmt: skip


def _entered(product: PassProduct | None, timezone: str, currency: str) -> dict[str, str]:
    """The form's values: the pass's, or a new pass's defaults."""
    if product is None:
        return {"name": "", "description": "", "price": "", "vat_rate": "", "currency": currency,
                "capacity": "", "max_claims": "", "sales_start": "", "sales_end": "",
                "transferable": "", "weighting": "equal", "late_refund": "unplayed",
                "coverage": "series", "covers_from": "", "covers_until": ""}  # fmt: skip

    def local(moment: datetime | None) -> str:
        return inputs.local_input(moment, timezone) if moment else ""

    return {
        "name": product.name, "description": product.description,
        "price": inputs.major_units(product.price_amount, product.currency),
        "vat_rate": inputs.percent(product.vat_rate_bps), "currency": product.currency,
        "capacity": "" if product.capacity is None else str(product.capacity),
        "max_claims": "" if product.max_claims is None else str(product.max_claims),
        "sales_start": local(product.sales_start), "sales_end": local(product.sales_end),
        "transferable": "1" if product.transferable else "",
        "weighting": product.weighting.value, "late_refund": product.late_refund.value,
        "coverage": product.coverage.value, "covers_from": local(product.covers_from),
        "covers_until": local(product.covers_until),
    }  # fmt: skip


def _typed(form: FormData) -> dict[str, str]:
    names = ("name", "description", "price", "vat_rate", "currency", "capacity", "max_claims",
             "sales_start", "sales_end", "transferable", "weighting", "late_refund",
             "coverage", "covers_from", "covers_until")  # fmt: skip
    return {name: text(form, name, 10_000 if name == "description" else 200) for name in names}


# -- /console/passes --------------------------------------------------------------------


@console_page
async def passes_page(request: Request) -> Response:
    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, READERS)
        rows = console_service.pass_rows(uow.session, caller.venue_id)
        return {"caller": caller, "rows": rows}

    return render(request, "console/passes.html", await in_unit_of_work(request, load))


@console_page
async def new_page(request: Request) -> Response:
    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ADMIN)
        venue = _venue(uow, caller)
        return {"caller": caller, "entered": _entered(None, venue.timezone, venue.currency),
                "errors": PageErrors(), "timezone": venue.timezone}  # fmt: skip

    return render(request, "console/passes_new.html", await in_unit_of_work(request, load))


@console_page
async def create(request: Request) -> Response:
    form = await console_form(request)
    now = _now(request)

    def run(uow: UnitOfWork) -> str:
        caller = console_caller(request, uow.session, ADMIN)
        venue = _venue(uow, caller)
        product = products.create_pass(
            uow.session, caller.venue_id, _setup(form, venue.timezone, venue.currency), now
        )
        emit(uow.session, CatalogueChanged())
        return product.id

    try:
        pass_id = await in_unit_of_work(request, run)
    except ServiceError as error:
        if error.status in (401, 403, 404):
            raise
        refused = error

        def again(uow: UnitOfWork) -> dict[str, Any]:
            caller = console_caller(request, uow.session, ADMIN)
            return {"caller": caller, "entered": _typed(form), "errors": _words(request, refused),
                    "timezone": _venue(uow, caller).timezone}  # fmt: skip

        context = await in_unit_of_work(request, again)
        return render(request, "console/passes_new.html", context, status=error.status)
    return RedirectResponse(f"/console/passes/{pass_id}?done=created", status_code=303)


# -- /console/passes/{pass_id} ----------------------------------------------------------


def _detail(
    request: Request, uow: UnitOfWork, caller: ConsoleCaller, pass_id: str, **extra: Any
) -> dict[str, Any]:
    session, now = uow.session, _now(request)
    product = owned(session, PassProduct, pass_id, caller.venue_id)
    sync_date_range(session, product, now)  # the venue's newest events, without waiting
    venue = _venue(uow, caller)
    cursor = request.query_params.get("cursor", "")[:200] or None
    holders, next_cursor = console_service.holders(session, caller.venue_id, pass_id, cursor)
    done = request.query_params.get("done")
    context: dict[str, Any] = {
        "caller": caller, "product": product, "timezone": venue.timezone,
        "remaining": console_service.remaining(product),
        "series": console_service.series(session, caller.venue_id, pass_id, now),
        "candidates": (console_service.candidates(session, caller.venue_id, pass_id, now)
                       if caller.role == "admin" and product.coverage is Coverage.series
                       else []),
        "holders": holders,
        "next_url": f"/console/passes/{pass_id}?cursor={next_cursor}#holders"
        if next_cursor else None,
        "entered": _entered(product, venue.timezone, venue.currency),
        "errors": PageErrors(), "series_errors": PageErrors(),
        "done": done if done in _DONE else None,
    }  # fmt: skip
    context.update(extra)
    return context


@console_page
async def pass_page(request: Request) -> Response:
    pass_id = _path_id(request, "pass_id")

    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, READERS)
        return _detail(request, uow, caller, pass_id)

    return render(request, "console/passes_detail.html", await in_unit_of_work(request, load))


async def _change(
    request: Request, pass_id: str, change: Callable[[UnitOfWork, ConsoleCaller, FormData], str],
    *, on_error: str,
) -> Response:  # fmt: skip
    """An admin's change of the pass, then back to its page; refused: the page again,
    the words beside the form they concern (`on_error`: "errors" or "series_errors")."""
    form = await console_form(request)

    def run(uow: UnitOfWork) -> str:
        caller = console_caller(request, uow.session, ADMIN)
        done = change(uow, caller, form)
        emit(uow.session, CatalogueChanged())
        return done

    try:
        done = await in_unit_of_work(request, run)
    except ServiceError as error:
        if error.status in (401, 403, 404):
            raise
        refused = error

        def again(uow: UnitOfWork) -> dict[str, Any]:
            caller = console_caller(request, uow.session, ADMIN)
            extra: dict[str, Any] = {on_error: _words(request, refused)}
            if on_error == "errors":
                extra["entered"] = _typed(form)
            return _detail(request, uow, caller, pass_id, **extra)

        context = await in_unit_of_work(request, again)
        return render(request, "console/passes_detail.html", context, status=error.status)
    return RedirectResponse(f"/console/passes/{pass_id}?done={done}", status_code=303)


@console_page
async def update(request: Request) -> Response:
    pass_id = _path_id(request, "pass_id")
    now = _now(request)

    def change(uow: UnitOfWork, caller: ConsoleCaller, form: FormData) -> str:
        product = owned(uow.session, PassProduct, pass_id, caller.venue_id)
        setup = _setup(form, _venue(uow, caller).timezone, product.currency)
        products.update_pass(uow.session, caller.venue_id, pass_id, setup, now)
        return "saved"

    return await _change(request, pass_id, change, on_error="errors")


@console_page
async def publish(request: Request) -> Response:
    pass_id = _path_id(request, "pass_id")
    now = _now(request)

    def change(uow: UnitOfWork, caller: ConsoleCaller, form: FormData) -> str:
        published = form.get("published") == "1"
        products.set_published(uow.session, caller.venue_id, pass_id, published, now)
        return "published" if published else "withdrawn"

    return await _change(request, pass_id, change, on_error="series_errors")


@console_page
async def add_event(request: Request) -> Response:
    pass_id = _path_id(request, "pass_id")
    now = _now(request)

    def change(uow: UnitOfWork, caller: ConsoleCaller, form: FormData) -> str:
        owned(uow.session, PassProduct, pass_id, caller.venue_id)
        tier_id = text(form, "tier_id", 40)
        if not _ID.fullmatch(tier_id):
            raise ValidationFailed("Choose an event.", fields={"tier_id": "a tier of the event"})
        try:
            console_service.add_by_tier(uow.session, caller.venue_id, pass_id, tier_id, now)
        except NotFound as unknown:
            raise ValidationFailed(
                "Choose an event.", fields={"tier_id": "a tier of the event"}
            ) from unknown
        return "event_added"

    return await _change(request, pass_id, change, on_error="series_errors")


@console_page
async def remove_event(request: Request) -> Response:
    pass_id, event_id = _path_id(request, "pass_id"), _path_id(request, "event_id")

    def change(uow: UnitOfWork, caller: ConsoleCaller, form: FormData) -> str:
        products.remove_event(uow.session, caller.venue_id, pass_id, event_id)
        return "event_removed"

    return await _change(request, pass_id, change, on_error="series_errors")


def _route(path: str, handler: Any, method: str) -> Route:
    return Route(path, handler, methods=[method], include_in_schema=False)


routes = [
    _route("/console/passes", passes_page, "GET"),
    _route("/console/passes/new", new_page, "GET"),
    _route("/console/passes/new", create, "POST"),
    _route("/console/passes/{pass_id}", pass_page, "GET"),
    _route("/console/passes/{pass_id}", update, "POST"),
    _route("/console/passes/{pass_id}/publish", publish, "POST"),
    _route("/console/passes/{pass_id}/events", add_event, "POST"),
    _route("/console/passes/{pass_id}/events/{event_id}/remove", remove_event, "POST"),
]
