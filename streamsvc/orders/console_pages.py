"""/console/orders: search and open the venue's orders, of an event's tickets or of a
recording; refund, revoke a ticket, mail the tickets (or the recording's watch link)
again. Admins act; finance reads (every action is admin-only, 403 for
finance even on a direct POST). The same services as the JSON API (views.py,
refunds.py); console_service.py adds what a page needs around them.

A ticket code is a secret: it is searched through a POST form only, never in a URL.
A refund goes through a confirmation page that carries a fresh Idempotency-Key in its
form, so a double submit (or a reload) refunds once. The detail shows each ticket's
live viewing sessions, read through viewing (console_service.TicketSessions).
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc.catalog.console_inputs import minor_units
from streamsvc.db import UnitOfWork
from streamsvc.errors import (
    DependencyUnavailable,
    NotFound,
    ServiceError,
    ValidationFailed,
    validation_failed,
)
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.orders import console_service, views
from streamsvc.orders.schemas import OrderListQuery
from streamsvc.staff.console import ADMIN, ConsoleCaller, console_caller, console_form, console_page
from streamsvc.staff.words import errors_of
from streamsvc.web.formatting import money
from streamsvc.web.rendering import gettext, language, render

READERS = frozenset({"admin", "finance"})
_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_STATUSES = ("pending", "paid", "partially_refunded", "refunded", "disputed", "expired",
             "failed", "cancelled")  # fmt: skip


def _now(request: Request) -> Any:
    return request.app.state.resources.clock.now()


def _text(form: FormData, name: str, limit: int = 256) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _path_id(request: Request, name: str) -> str:
    value = request.path_params[name]
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise NotFound("No such page.")
    return value


def _detail_url(order_id: str, done: str | None = None) -> str:
    return f"/console/orders/{order_id}" + (f"?done={done}" if done else "")


# -- /console/orders ------------------------------------------------------------------------


def _filters(request: Request) -> dict[str, str]:
    params = request.query_params
    return {name: params.get(name, "")[:254].strip()
            for name in ("email", "order", "event", "status", "cursor")}  # fmt: skip


def _list(
    request: Request, uow: UnitOfWork, caller: ConsoleCaller, filters: dict[str, str]
) -> dict[str, Any]:
    errors = errors_of(request, None)
    try:
        query = OrderListQuery.model_validate({
            "limit": 50, "cursor": filters["cursor"] or None, "email": filters["email"] or None,
            "event_id": filters["event"] or None, "status": filters["status"] or None,
        })  # fmt: skip
        page = views.list_orders(uow.session, caller.venue_id, query)
    except ValidationError as exc:
        page, errors = None, errors_of(request, validation_failed(exc.errors()))
    except ValidationFailed as exc:
        page, errors = None, errors_of(request, exc)
    events = console_service.venue_events(uow.session, caller.venue_id)
    orders = page.data if page else []
    next_url = None
    if page is not None and page.next_cursor:
        kept = {k: v for k, v in filters.items() if v and k not in ("cursor", "order")}
        next_url = "/console/orders?" + urlencode({**kept, "cursor": page.next_cursor})
    return {"caller": caller, "filters": filters, "orders": orders,
            "next_url": next_url, "events": events, "by_id": {e.id: e for e in events},
            "recordings": console_service.recording_titles(uow.session, caller.venue_id, orders),
            "venue_timezone": console_service.venue_timezone(uow.session, caller.venue_id),
            "statuses": _STATUSES, "errors": errors, "code_error": None,
            "order_error": None}  # fmt: skip


@console_page
async def orders_page(request: Request) -> Response:
    filters = _filters(request)
    wanted = filters["order"]

    def load(uow: UnitOfWork) -> dict[str, Any] | str:
        caller = console_caller(request, uow.session, READERS)
        if (
            wanted
            and _ID.fullmatch(wanted)
            and console_service.order_exists(uow.session, caller.venue_id, wanted)
        ):
            return wanted
        context = _list(request, uow, caller, filters)
        if wanted:
            context["order_error"] = gettext(request, "No order of this venue has this id.")
        return context

    found = await in_unit_of_work(request, load)
    if isinstance(found, str):
        return RedirectResponse(_detail_url(found), status_code=303)
    return render(request, "console/orders.html", found)


@console_page
async def find_by_code(request: Request) -> Response:
    """POST: the ticket code in the body; to its order, or the list with the words."""
    form = await console_form(request)
    code = _text(form, "code", 40)

    def find(uow: UnitOfWork) -> dict[str, Any] | str:
        caller = console_caller(request, uow.session, READERS)
        order_id = console_service.order_of_ticket_code(uow.session, caller.venue_id, code)
        if order_id is not None:
            return order_id
        context = _list(request, uow, caller, _filters(request))
        context["code_error"] = gettext(request, "No ticket of this venue has this code.")
        return context

    found = await in_unit_of_work(request, find)
    if isinstance(found, str):
        return RedirectResponse(_detail_url(found), status_code=303)
    return render(request, "console/orders.html", found, status=404)


# -- /console/orders/{order_id} -------------------------------------------------------------


def _detail(
    request: Request, uow: UnitOfWork, caller: ConsoleCaller, order_id: str, **extra: Any
) -> dict[str, Any]:
    detail = console_service.order_detail(uow.session, caller.venue_id, order_id)
    order = detail.order
    done = request.query_params.get("done")
    context: dict[str, Any] = {
        "caller": caller, "order": order, "event": detail.event, "tiers": detail.tier_names,
        "recording": detail.recording, "tz": detail.timezone, "holders": detail.holders,
        "now": _now(request),
        "left": order.paid_amount - order.refunded_amount, "errors": errors_of(request, None),
        "entered": {}, "done": done if done in ("refunded", "revoked", "resent") else None,
    }  # fmt: skip
    context.update(extra)
    return context


@console_page
async def order_page(request: Request) -> Response:
    order_id = _path_id(request, "order_id")

    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, READERS)
        return _detail(request, uow, caller, order_id)

    context = await in_unit_of_work(request, load)
    return render(request, "console/orders_detail.html", await _with_sessions(request, context))


async def _with_sessions(request: Request, context: dict[str, Any]) -> dict[str, Any]:
    """The tickets' (or the recording access's) viewing sessions, read from viewing after
    the order (a venue's own); None, said on the page, when they cannot be read right now."""
    viewing: console_service.TicketSessions = request.app.state.resources.viewing
    holder_ids: list[str] = context["holders"]
    try:
        sessions = await viewing.ticket_sessions(holder_ids, int(_now(request).timestamp() * 1000))
    except DependencyUnavailable:
        sessions = None
    context["sessions"] = sessions
    return context


def _refund_amount(request: Request, form: FormData, currency: str, left: int) -> int:
    """The amount typed in major units ("5", "5,00"); empty: all that is left."""
    text = _text(form, "amount", 20)
    amount = left if not text else minor_units(text, currency, "amount")
    if amount <= 0 or amount > left:
        words = gettext(
            request, "at most %(amount)s", amount=money(left, currency, language(request))
        )
        raise ValidationFailed(
            "The amount is more than is left to refund.", fields={"amount": words}
        )
    return amount


@console_page
async def confirm_refund(request: Request) -> Response:
    """The confirmation step: what will be refunded, with a fresh Idempotency-Key."""
    order_id = _path_id(request, "order_id")
    form = await console_form(request)

    def run(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ADMIN)
        context = _detail(request, uow, caller, order_id)
        order = context["order"]
        amount = _refund_amount(request, form, order.currency, context["left"])
        context.update(amount=amount, reason=_text(form, "reason", 500),
                       key=secrets.token_urlsafe(24))  # fmt: skip
        return context

    try:
        context = await in_unit_of_work(request, run)
    except ServiceError as error:
        if error.status in (401, 403, 404):
            raise
        return await _detail_with_error(request, order_id, error, form)
    return render(request, "console/orders_refund.html", context)


async def _detail_with_error(
    request: Request, order_id: str, error: ServiceError, form: FormData
) -> Response:
    def again(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, READERS)
        entered = {"amount": _text(form, "amount", 20), "reason": _text(form, "reason", 500)}
        return _detail(request, uow, caller, order_id, errors=errors_of(request, error),
                       entered=entered)  # fmt: skip

    context = await _with_sessions(request, await in_unit_of_work(request, again))
    return render(request, "console/orders_detail.html", context, status=error.status)


@console_page
async def refund(request: Request) -> Response:
    """The confirmed refund: once per Idempotency-Key, whatever the number of submits."""
    order_id = _path_id(request, "order_id")
    form = await console_form(request)
    key, amount = _text(form, "idempotency_key", 64), _text(form, "amount_minor", 12)

    def run(uow: UnitOfWork) -> None:
        caller = console_caller(request, uow.session, ADMIN)
        if not _KEY.fullmatch(key) or not amount.isdigit():
            raise ValidationFailed("Confirm the refund again.", fields={"amount": "confirm again"})
        console_service.refund_once(
            uow.session, caller.venue_id, order_id, amount=int(amount),
            reason=_text(form, "reason", 500), key=key, now=_now(request),
        )  # fmt: skip

    try:
        await in_unit_of_work(request, run)
    except ServiceError as error:
        if error.status in (401, 403, 404):
            raise
        return await _detail_with_error(request, order_id, error, FormData())
    return RedirectResponse(_detail_url(order_id, "refunded"), status_code=303)


@console_page
async def revoke_ticket(request: Request) -> Response:
    order_id, ticket_id = _path_id(request, "order_id"), _path_id(request, "ticket_id")
    await console_form(request)

    def run(uow: UnitOfWork) -> None:
        caller = console_caller(request, uow.session, ADMIN)
        console_service.order_detail(uow.session, caller.venue_id, order_id)  # the venue's
        if ticket_id not in {t.id for t in views.tickets_of(uow.session, order_id)}:
            raise NotFound("No such ticket.")
        views.revoke_ticket(uow.session, caller.venue_id, ticket_id, _now(request))

    await in_unit_of_work(request, run)
    return RedirectResponse(_detail_url(order_id, "revoked"), status_code=303)


@console_page
async def resend(request: Request) -> Response:
    order_id = _path_id(request, "order_id")
    form = await console_form(request)

    def run(uow: UnitOfWork) -> None:
        caller = console_caller(request, uow.session, ADMIN)
        console_service.resend_order(uow.session, caller.venue_id, order_id, _now(request))

    try:
        await in_unit_of_work(request, run)
    except ServiceError as error:
        if error.status in (401, 403, 404):
            raise
        return await _detail_with_error(request, order_id, error, form)
    return RedirectResponse(_detail_url(order_id, "resent"), status_code=303)


def _route(path: str, handler: Any, method: str) -> Route:
    return Route(path, handler, methods=[method], include_in_schema=False)


routes = [
    _route("/console/orders", orders_page, "GET"),
    _route("/console/orders/find-ticket", find_by_code, "POST"),
    _route("/console/orders/{order_id}", order_page, "GET"),
    _route("/console/orders/{order_id}/refund/confirm", confirm_refund, "POST"),
    _route("/console/orders/{order_id}/refunds", refund, "POST"),
    _route("/console/orders/{order_id}/tickets/{ticket_id}/revoke", revoke_ticket, "POST"),
    _route("/console/orders/{order_id}/resend", resend, "POST"),
]
