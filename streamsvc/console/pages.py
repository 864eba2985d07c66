"""Console pages: the overview (/console), an event's audience report, cancelling an
event with its progress, the split preview of the event editor (JSON) and the venue's
embed origins. Thin: guard, service, render; the event editor itself is
catalog/console_pages.py."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from babel import Locale
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from streamsvc.catalog import console_inputs as inputs
from streamsvc.catalog import console_pages as editor
from streamsvc.catalog import events, tiers
from streamsvc.console import chart, reading
from streamsvc.console import settings as console_settings
from streamsvc.db import UnitOfWork
from streamsvc.errors import BadRequest, NotFound, ServiceError
from streamsvc.finance.deals import settle_shares
from streamsvc.finance.waterfall import OrderMoney, waterfall
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.jobs.service import get_job, public
from streamsvc.orders import cancellation
from streamsvc.staff.console import (
    ADMIN,
    ALL_ROLES,
    console_caller,
    console_form,
    console_page,
)
from streamsvc.venues.models import Venue
from streamsvc.viewing.audience import UNKNOWN_COUNTRY
from streamsvc.web.formatting import BABEL_LOCALES, filters, money
from streamsvc.web.rendering import gettext, language, render

ADMIN_FINANCE = frozenset({"admin", "finance"})
MAX_PREVIEW_FIELDS = 200


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.resources.clock.now()
    return now


# -- /console --------------------------------------------------------------------------------


@console_page
async def overview(request: Request) -> Response:
    def load(uow: UnitOfWork) -> dict[str, Any] | None:
        caller = console_caller(request, uow.session, ALL_ROLES)
        if caller.role == "door":
            return None
        venue = uow.session.get(Venue, caller.venue_id)
        assert venue is not None
        now = _now(request)
        days = reading.sales_per_day(uow.session, venue.id, venue.timezone, now)
        return {
            "caller": caller,
            "venue": venue,
            "events": reading.event_sales(uow.session, venue.id, now),
            "days": days,
            "bars": chart.bars([day.gross for day in days]),
            "chart_width": chart.WIDTH,
            "chart_height": chart.HEIGHT,
        }

    context = await in_unit_of_work(request, load)
    if context is None:  # door staff have nothing here but the check-in
        return RedirectResponse("/console/check-in", status_code=303)
    resources = request.app.state.resources
    context["watching"] = await reading.viewers_now(
        resources.viewing.audience, [row.event.id for row in context["events"]], _now(request),
        resources.settings,
    )  # fmt: skip
    return render(request, "console/overview.html", context)


# -- an event's audience report --------------------------------------------------------------

CHART_BARS = 60  # at most, over the stream; each as high as the busiest minute it covers


@console_page
async def audience_page(request: Request) -> Response:
    event_id = editor.path_id(request)

    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ADMIN_FINANCE)
        found = reading.stored_audience(uow.session, caller.venue_id, event_id, _now(request))
        return {"caller": caller, "found": found}

    context = await in_unit_of_work(request, load)
    found: reading.EventAudienceStored = context["found"]
    live = await reading.live_audience(request.app.state.resources.viewing.audience, event_id)
    figures = reading.audience_figures(found, live)
    size, heights = chart.peaks([n for _, n in figures.over_the_stream], CHART_BARS)
    territories = Locale.parse(BABEL_LOCALES[language(request)]).territories
    context.update(
        event=found.event, status=found.status, figures=figures, live_missing=live is None,
        tiers=[(found.tier_names.get(tier_id, tier_id), n) for tier_id, n in figures.by_tier],
        countries=[(territories.get(code, code) if code != UNKNOWN_COUNTRY
                    else gettext(request, "Not known"), n) for code, n in figures.by_country],
        stream=[(figures.over_the_stream[i * size][0], peak) for i, peak in enumerate(heights)],
        minutes_per_bar=size, bars=chart.bars(heights), chart_width=chart.WIDTH,
        chart_height=chart.HEIGHT,
    )  # fmt: skip
    return render(request, "console/audience.html", context)


# -- cancelling an event -------------------------------------------------------------------


@console_page
async def cancel_page(request: Request) -> Response:
    event_id = editor.path_id(request)

    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ADMIN)
        summary = reading.cancellation_summary(
            uow.session, caller.venue_id, event_id, _now(request)
        )
        return {"caller": caller, "summary": summary}

    return render(request, "console/cancel.html", await in_unit_of_work(request, load))


@console_page
async def cancel_event(request: Request) -> Response:
    event_id = editor.path_id(request)
    await console_form(request)

    def cancel(uow: UnitOfWork) -> str:
        caller = console_caller(request, uow.session, ADMIN)
        return cancellation.cancel_event(uow.session, caller.venue_id, event_id, _now(request)).id

    job_id = await in_unit_of_work(request, cancel)
    return RedirectResponse(
        f"/console/events/{event_id}/cancellation?job={job_id}", status_code=303
    )


@console_page
async def cancellation_page(request: Request) -> Response:
    event_id = editor.path_id(request)
    job_id = request.query_params.get("job", "")

    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ADMIN_FINANCE)
        event = events.get_event(uow.session, caller.venue_id, event_id)
        job = get_job(uow.session, caller.venue_id, job_id[:40])
        if job.subject_id != event.id or job.kind != cancellation.KIND:
            raise NotFound("No such job.")
        return {"caller": caller, "event": event, "job": public(job)}

    return render(request, "console/cancel_progress.html", await in_unit_of_work(request, load))


@console_page
async def job_json(request: Request) -> Response:
    """A job's progress for the page's polling (the console session, not an API key)."""
    job_id = editor.path_id(request, "job_id")

    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ADMIN_FINANCE)
        found: dict[str, Any] = public(get_job(uow.session, caller.venue_id, job_id)).model_dump(
            mode="json"
        )
        return found

    return JSONResponse(await in_unit_of_work(request, load), headers={"Cache-Control": "no-store"})


# -- the split preview ----------------------------------------------------------------------


def _json_fields(raw: bytes) -> dict[str, str]:
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadRequest("Send a JSON object.", code="malformed_json") from None
    fields = body.get("fields") if isinstance(body, dict) else None
    if (
        not isinstance(fields, dict)
        or len(fields) > MAX_PREVIEW_FIELDS
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())
    ):
        raise BadRequest('Send {"fields": {name: text}}.', code="malformed_json")
    return {k: v[:100] for k, v in fields.items()}


@console_page
async def split_preview(request: Request) -> Response:
    """What each party gets of a sample revenue under the rule typed into the split form,
    computed by the finance waterfall itself (nothing of it is re-done in JavaScript)."""
    event_id = editor.path_id(request)
    raw = await request.body()  # (bounded by the body size limit)
    lang = language(request)

    def compute(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ADMIN)  # a POST: the CSRF header too
        fields = _json_fields(raw)  # read once the caller may ask
        event = events.get_event(uow.session, caller.venue_id, event_id)
        venue = uow.session.get(Venue, caller.venue_id)
        assert venue is not None
        parties = editor.split_parties(uow.session, event, venue)
        rule = editor.split_rule_from(fields, parties, event.currency)
        revenue = inputs.minor_units(fields.get("sample", ""), event.currency, "sample")
        event_tiers = tiers.list_tiers(uow.session, caller.venue_id, event.id)
        vat_rate = event_tiers[0].vat_rate_bps if event_tiers else 0
        names = {f"{kind}:{pid}": name for kind, pid, name in parties}
        guaranteed = {f"{s.party.type}:{s.party.id}": s.guarantee_amount or 0 for s in rule.shares}
        result = waterfall(
            [OrderMoney(items=((revenue, vat_rate),))],
            stripe_fees=0,
            platform_fee_bps=rule.platform_fee_bps,
            costs=[(cost.label, cost.amount) for cost in rule.costs],
            shares=[(f"{s.party.type}:{s.party.id}", s.bps) for s in rule.shares],
        )
        if result.distributable > 0 and any(guaranteed.values()):
            # As the split settles it (finance/splitting.py): the greater of each
            # guarantee and the share, the top-ups taken from the others pro rata.
            parts = settle_shares(result.distributable, [bps for _, bps, _ in result.parties],
                                  [guaranteed[key] for key, _, _ in result.parties])  # fmt: skip
            result = replace(result, parties=tuple(
                (key, bps, part) for (key, bps, _), part in zip(result.parties, parts, strict=True)
            ))  # fmt: skip

        def label(key: str, bps: int) -> str:
            share = filters(lang)["percent_bps"](bps)
            if guaranteed.get(key):
                return gettext(request, "%(party)s (%(share)s, at least %(guarantee)s)",
                               party=names.get(key, key), share=share,
                               guarantee=money(guaranteed[key], event.currency, lang))  # fmt: skip
            return gettext(request, "%(party)s (%(share)s)", party=names.get(key, key), share=share)

        def shown(amount: int) -> dict[str, Any]:
            return {"amount": amount, "text": money(amount, event.currency, lang)}

        lines = [
            (gettext(request, "Sample revenue, VAT included"), result.gross),
            (gettext(request, "VAT"), result.vat),
            (gettext(request, "Platform fee"), result.platform_fee),
            *[(gettext(request, "Cost: %(label)s", label=label), -amount)
              for label, amount in result.costs],
            (gettext(request, "To share"), max(result.distributable, 0)),
            *[(label(key, bps), amount) for key, bps, amount in result.parties],
        ]  # fmt: skip
        return {
            "lines": [{"label": label, **shown(amount)} for label, amount in lines],
            "gross": shown(result.gross),
            "vat": shown(result.vat),
            "platform_fee": shown(result.platform_fee),
            "costs": [{"label": label, **shown(amount)} for label, amount in result.costs],
            "distributable": shown(result.distributable),
            "parties": [
                {"party": key, "name": names.get(key, key), "bps": bps, **shown(amount)}
                for key, bps, amount in result.parties
            ],
        }

    try:
        answer = await in_unit_of_work(request, compute)
    except ServiceError as error:
        if error.status in (401, 403):
            raise
        # The page script shows the API's error shape, here in the page's words.
        said = editor.words(request, error)
        body = {"code": error.code, "message": said.message, "fields": said.fields}
        return JSONResponse({"error": body}, status_code=error.status, headers=error.headers)
    return JSONResponse(answer)


# -- the venue's embed origins -------------------------------------------------------------


@console_page
async def set_embed_origins(request: Request) -> Response:
    form = await console_form(request)
    back = editor.text(form, "event_id", 40)
    target = f"/console/events/{back}" if editor.ID.fullmatch(back) else "/console"
    lines = editor.text(form, "embed_origins", 5000).splitlines()

    def save(uow: UnitOfWork) -> None:
        caller = console_caller(request, uow.session, ADMIN)
        console_settings.set_embed_origins(uow.session, caller.venue_id, lines[:100])

    try:
        await in_unit_of_work(request, save)
    except ServiceError as caught:
        error = caught
        if error.status in (401, 403) or target == "/console":
            raise
        event_id = target.rsplit("/", 1)[1]
        found = editor.Editor(
            "embed", editor.words(request, error), {"embed_origins": "\n".join(lines)}
        )

        def again(uow: UnitOfWork) -> dict[str, Any]:
            caller = console_caller(request, uow.session, ADMIN)
            return editor.event_context(request, uow, caller, event_id, found)

        context = await in_unit_of_work(request, again)
        return render(request, "console/event.html", context, status=error.status)
    return RedirectResponse(f"{target}?done=embed#embed", status_code=303)


def _route(path: str, handler: Any, method: str) -> Route:
    return Route(path, handler, methods=[method], include_in_schema=False)


routes = [
    _route("/console", overview, "GET"),
    _route("/console/events/{event_id}/audience", audience_page, "GET"),
    _route("/console/events/{event_id}/cancel", cancel_page, "GET"),
    _route("/console/events/{event_id}/cancel", cancel_event, "POST"),
    _route("/console/events/{event_id}/cancellation", cancellation_page, "GET"),
    _route("/console/events/{event_id}/split-preview", split_preview, "POST"),
    _route("/console/jobs/{job_id}", job_json, "GET"),
    _route("/console/embed-origins", set_embed_origins, "POST"),
]
