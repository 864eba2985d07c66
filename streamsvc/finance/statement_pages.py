"""A party's statement in the console, as a page and as a PDF (finance and admin).

    GET /console/finance/statements/{party_type}/{party_id}.html?from=YYYY-MM-DD&to=YYYY-MM-DD
    GET /console/finance/statements/{party_type}/{party_id}.pdf?from=…&to=…

The party is the signed-in venue itself, one of its performers or one of its rights
holders (`rights_holder`, the archive's recordings; 404 otherwise); the
days are the venue's, both ends included; without `from`/`to` the current month up to
today. Both answers are one rendering of templates/documents/party_statement.html
(finance/party_statement.py), in the console's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streamsvc.db import UnitOfWork
from streamsvc.errors import NotFound, ValidationFailed
from streamsvc.finance import party_statement
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.staff.console import console_caller, console_page
from streamsvc.venues.models import Venue
from streamsvc.web.document_pages import html_document, pdf_document
from streamsvc.web.rendering import language

FINANCE = frozenset({"admin", "finance"})
PARTY_TYPES = party_statement.PARTY_TYPES
_ID = re.compile(r"^[a-z]{2,5}_[0-9A-Za-z]{1,32}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class StatementRequest:
    party_type: str
    party_id: str
    first: date | None
    last: date | None


def _day(request: Request, name: str) -> date | None:
    typed = request.query_params.get(name)
    if not typed:
        return None
    try:
        if not _DAY.fullmatch(typed):
            raise ValueError(typed)
        return date.fromisoformat(typed)
    except ValueError:
        raise ValidationFailed("The period is not valid.",
                               fields={name: "a date, YYYY-MM-DD"}) from None  # fmt: skip


def _asked(request: Request) -> StatementRequest:
    party_type, party_id = request.path_params["party_type"], request.path_params["party_id"]
    if party_type not in PARTY_TYPES or not _ID.fullmatch(party_id):
        raise NotFound("No such party.")
    return StatementRequest(party_type, party_id, _day(request, "from"), _day(request, "to"))


async def _statement(request: Request, asked: StatementRequest) -> tuple[str, str]:
    """The work of both answers: (file name, HTML) for the caller's venue."""
    resources = request.app.state.resources
    lang = language(request)

    def load(uow: UnitOfWork) -> tuple[str, str]:
        caller = console_caller(request, uow.session, FINANCE)
        venue = uow.session.get(Venue, caller.venue_id)
        assert venue is not None
        today = resources.clock.now().astimezone(ZoneInfo(venue.timezone)).date()
        first, last = asked.first or today.replace(day=1), asked.last or today
        _, html = party_statement.document(
            uow.session, resources.database.engine, venue, party_type=asked.party_type,
            party_id=asked.party_id, first=first, last=last, lang=lang,
        )  # fmt: skip
        name = f"statement-{asked.party_id}-{first.isoformat()}-{last.isoformat()}"
        return name, html

    return await in_unit_of_work(request, load)


@console_page
async def statement_html(request: Request) -> Response:
    _, html = await _statement(request, _asked(request))
    return html_document(request, html)


@console_page
async def statement_pdf(request: Request) -> Response:
    name, html = await _statement(request, _asked(request))
    return await pdf_document(html, f"{name}.pdf")


routes = [
    Route("/console/finance/statements/{party_type}/{party_id}.html", statement_html,
          methods=["GET"], include_in_schema=False),
    Route("/console/finance/statements/{party_type}/{party_id}.pdf", statement_pdf,
          methods=["GET"], include_in_schema=False),
]  # fmt: skip
