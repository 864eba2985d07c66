"""/console/audit: the venue's audit log as a page, with the reading service of GET
/v1/audit (reading.entries): admins read every action, finance the money actions.

The audit package imports no domain (the domains import it to record), so the console
guard, the page wrapper and the list of the venue's people come in from app.py, as the
actor names do for the JSON route.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

from pydantic import ValidationError
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streamsvc.audit import reading
from streamsvc.audit.schemas import AuditPage, AuditQuery
from streamsvc.db import UnitOfWork
from streamsvc.errors import ServiceError, ValidationFailed, validation_failed
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.web.errors import page_errors
from streamsvc.web.rendering import render

FILTERS = ("object_type", "object_id", "actor", "from", "to", "cursor")


class Caller(Protocol):
    @property
    def venue_id(self) -> str: ...

    @property
    def role(self) -> str: ...


Guard = Callable[[Request, Session], Caller]  # the signed-in admin or finance member
PageWrapper = Callable[[Callable[[Request], Any]], Callable[[Request], Any]]
People = Callable[[Session, str], list[tuple[str, str]]]  # (person id, name) of a venue


def _day(text: str, field: str, *, after: bool = False) -> str | None:
    """A date input's "2026-12-01" as the start of that day (UTC), or of the next day
    when `after` (the period's last day is included), for AuditQuery."""
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise ValidationFailed("The form has errors.", fields={field: "enter a date"}) from None
    return (datetime.combine(day, time(), UTC) + timedelta(days=1 if after else 0)).isoformat()


def _query(filters: dict[str, str]) -> AuditQuery:
    to_day = _day(filters["to"], "to", after=True)
    try:
        return AuditQuery.model_validate({
            "limit": 50, "cursor": filters["cursor"] or None,
            "object_type": filters["object_type"] or None,
            "object_id": filters["object_id"] or None,
            "actor_id": filters["actor"] or None, "from": _day(filters["from"], "from"),
            "to": to_day,
        })  # fmt: skip
    except ValidationError as exc:
        raise validation_failed(exc.errors()) from None


def build_routes(
    names: Mapping[str, reading.NameSource], guard: Guard, wrap: PageWrapper, people: People
) -> list[Route]:
    """The /console/audit page, guarded by `guard` and wrapped by `wrap` (the console's
    redirect to its login), naming actors with `names` and offering `people` as actors."""

    async def audit_page(request: Request) -> Response:
        params = request.query_params
        filters = {name: params.get(name, "")[:200].strip() for name in FILTERS}

        def load(uow: UnitOfWork) -> dict[str, Any]:
            caller = guard(request, uow.session)
            context: dict[str, Any] = {
                "caller": caller, "filters": filters, "entries": [], "next_url": None,
                "people": people(uow.session, caller.venue_id), "errors": None,
            }  # fmt: skip
            try:
                page: AuditPage = reading.entries(
                    uow.session, caller.venue_id, caller.role, _query(filters), names
                )
            except ServiceError as error:
                if error.status in (401, 403):
                    raise
                context["errors"] = page_errors(request, error)
                return context
            context["entries"] = page.data
            if page.next_cursor:
                kept = {k: v for k, v in filters.items() if v and k != "cursor"}
                context["next_url"] = "/console/audit?" + urlencode(
                    {**kept, "cursor": page.next_cursor}
                )
            return context

        context = await in_unit_of_work(request, load)
        status = 422 if context["errors"] else 200
        return render(request, "console/audit.html", context, status=status)

    return [Route("/console/audit", wrap(audit_page), methods=["GET"], include_in_schema=False)]
