"""/console/finance: each event's statement as a waterfall (an SVG drawn on the server,
the figures in a table beside it), each party's payable balance, and per event the
split rule's versions. Finance and admin only (door staff get 403). Thin: the console
guard, the statement service and the ledger (console_reading.py), then the template.

The exports page is console_exports.py, reconciliation console_reconciliation.py.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streamsvc.catalog.models import Event
from streamsvc.db import UnitOfWork
from streamsvc.errors import NotFound
from streamsvc.finance import console_reading as reading
from streamsvc.finance.statement import statement
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.kit.pagination import decode_cursor, encode_cursor
from streamsvc.staff.console import console_caller, console_page
from streamsvc.venues.models import Venue
from streamsvc.venues.tenancy import owned
from streamsvc.web.rendering import N_, render

FINANCE = frozenset({"admin", "finance"})
_ID = re.compile(r"^[a-z]+_[0-9A-Za-z]{1,28}$")
# The waterfall's lines in the page's words (a cost and a party carry their own names).
STEP_LABELS = {
    "gross": N_("Gross paid by buyers"),
    "refunds": N_("Refunds"),
    "disputes": N_("Disputes lost"),
    "vat": N_("VAT"),
    "pass_revenue": N_("Season passes"),
    "pass_fees": N_("Stripe fees of season passes"),
    "stripe_fees": N_("Stripe fees"),
    "platform_fee": N_("Platform fee"),
    "distributable": N_("Distributable"),
}


def now_of(request: Request) -> datetime:
    now: datetime = request.app.state.resources.clock.now()
    return now


def path_id(request: Request, name: str) -> str:
    """An id from the path; a malformed one is a page that does not exist."""
    value = request.path_params.get(name)
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise NotFound("No such page.")
    return value


def statement_period(event: Event, now: datetime) -> dict[str, str]:
    """The days of a party statement covering all of an event's splits so far: from the
    day it was set up (no sale, so no split, comes before) to today, in its timezone."""
    zone = ZoneInfo(event.timezone)
    first, last = event.created_at.astimezone(zone).date(), now.astimezone(zone).date()
    return {"from": min(first, last).isoformat(), "to": last.isoformat()}


def _venue(uow: UnitOfWork, venue_id: str) -> Venue:
    venue = uow.session.get(Venue, venue_id)
    assert venue is not None  # the guard found the membership of this venue
    return venue


@console_page
async def overview(request: Request) -> Response:
    cursor = request.query_params.get("before", "")[:200]

    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, FINANCE)
        before = decode_cursor(cursor)[0] if cursor else None
        summaries, more = reading.event_summaries(uow.session, caller.venue_id,
                                                  now_of(request), before=before)  # fmt: skip
        next_url = None
        if more is not None:
            next_url = "/console/finance?" + urlencode({"before": encode_cursor(more, "")})
        return {"caller": caller, "venue": _venue(uow, caller.venue_id),
                "summaries": summaries, "next_url": next_url,
                "recordings": reading.recording_summaries(uow.session, caller.venue_id),
                "balances": reading.party_balances(uow.session, caller.venue_id)}  # fmt: skip

    return render(request, "console/finance.html", await in_unit_of_work(request, load))


@console_page
async def event_page(request: Request) -> Response:
    event_id = path_id(request, "event_id")

    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, FINANCE)
        event = owned(uow.session, Event, event_id, caller.venue_id)
        found = statement(uow.session, event)
        parties = {(p.party.type, p.party.id) for p in found.parties}
        names = reading.party_names(uow.session, caller.venue_id, parties)
        drawn = reading.steps(found, names)
        return {
            "caller": caller, "event": event, "statement": found, "steps": drawn,
            "labels": STEP_LABELS, "names": names,
            "chart_width": reading.CHART_WIDTH, "chart_height": reading.chart_height(drawn),
            "label_width": reading.LABEL_WIDTH, "bar_height": reading.BAR_HEIGHT,
            "versions": reading.rule_versions(uow.session, event),
            "period": statement_period(event, now_of(request)),
        }  # fmt: skip

    return render(request, "console/finance_event.html", await in_unit_of_work(request, load))


def _route(path: str, handler: Any, method: str = "GET") -> Route:
    return Route(path, handler, methods=[method], include_in_schema=False)


routes = [
    _route("/console/finance", overview),
    _route("/console/finance/events/{event_id}", event_page),
]
