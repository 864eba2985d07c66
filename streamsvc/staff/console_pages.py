"""Console pages of the staff: /console/account (two factors, log out everywhere),
/console/members and /console/api-keys (admins). Thin: guard, service, render."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streamsvc.db import UnitOfWork
from streamsvc.errors import NotFound, ServiceError, ValidationFailed, validation_failed
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.staff import account, service
from streamsvc.staff.console import (
    ADMIN,
    ALL_ROLES,
    ConsoleCaller,
    console_caller,
    console_form,
    console_page,
    mfa_required,
)
from streamsvc.staff.models import ROLES, Person
from streamsvc.staff.words import errors_of
from streamsvc.venues import service as venues
from streamsvc.venues.models import Venue
from streamsvc.venues.schemas import ApiKeyCreate
from streamsvc.web.rendering import render

_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def _now(request: Request) -> Any:
    return request.app.state.resources.clock.now()


def _text(form: FormData, name: str, limit: int = 256) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _path_id(request: Request, name: str) -> str:
    value = request.path_params[name]
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise NotFound("No such page.")
    return value


# -- /console/account ---------------------------------------------------------------------


def _account(
    request: Request, uow: UnitOfWork, caller: ConsoleCaller, **extra: Any
) -> dict[str, Any]:
    settings = request.app.state.resources.settings
    session, now = uow.session, _now(request)
    venue = session.get(Venue, caller.venue_id)
    assert venue is not None
    context: dict[str, Any] = {
        "caller": caller,
        "enrolment": account.enrolment(session, caller.person_id, now),
        "recovery_left": account.unused_recovery_codes(session, caller.person_id),
        "must_enrol": caller.role == "admin"
        and mfa_required(venue, settings)
        and not caller.has_totp,
        "recovery_codes": None,
        "errors": errors_of(request, None),
        "done": None,
    }
    context.update(extra)
    if "caller" in extra:  # the second factor changed: show the new state
        context["enrolment"] = account.enrolment(session, caller.person_id, now)
    return context


@console_page
async def account_page(request: Request) -> Response:
    def load(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ALL_ROLES, enrolling=True)
        return _account(request, uow, caller)

    return render(request, "console/account.html", await in_unit_of_work(request, load))


async def _account_action(request: Request, act: Any) -> Response:
    """Run `act(uow, caller, form) -> extra context`; show the account page with it, or
    with the error beside its field."""
    form = await console_form(request)
    status, headers = 200, {}

    def run(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ALL_ROLES, enrolling=True)
        extra = act(uow, caller, form)
        return _account(request, uow, _refreshed(uow, caller), **extra)

    try:
        context = await in_unit_of_work(request, run)
    except ServiceError as caught:
        error = caught
        if error.status in (401, 403) and error.code != "mfa_required":
            raise
        status, headers = error.status, error.headers

        def again(uow: UnitOfWork) -> dict[str, Any]:
            caller = console_caller(request, uow.session, ALL_ROLES, enrolling=True)
            return _account(request, uow, caller, errors=errors_of(request, error))

        context = await in_unit_of_work(request, again)
    return render(request, "console/account.html", context, status=status, headers=headers)


def _refreshed(uow: UnitOfWork, caller: ConsoleCaller) -> ConsoleCaller:
    person = uow.session.get(Person, caller.person_id)
    has_totp = person is not None and person.totp_secret is not None
    return ConsoleCaller(**{**caller.__dict__, "has_totp": has_totp})


@console_page
async def enable_totp(request: Request) -> Response:
    def act(uow: UnitOfWork, caller: ConsoleCaller, form: FormData) -> dict[str, Any]:
        codes = account.confirm_enrolment(
            uow.session, caller.person_id, _text(form, "code", 12), _now(request)
        )
        return {"recovery_codes": codes, "done": "mfa_enabled"}

    return await _account_action(request, act)


@console_page
async def disable_totp(request: Request) -> Response:
    settings = request.app.state.resources.settings

    def act(uow: UnitOfWork, caller: ConsoleCaller, form: FormData) -> dict[str, Any]:
        account.disable(
            uow.session, settings, caller.person_id, _text(form, "password"), _now(request)
        )
        return {"done": "mfa_disabled"}

    return await _account_action(request, act)


@console_page
async def regenerate_codes(request: Request) -> Response:
    def act(uow: UnitOfWork, caller: ConsoleCaller, form: FormData) -> dict[str, Any]:
        return {"recovery_codes": account.regenerate_recovery_codes(uow.session, caller.person_id)}

    return await _account_action(request, act)


@console_page
async def log_out_everywhere(request: Request) -> Response:
    await console_form(request)

    def end(uow: UnitOfWork) -> None:
        caller = console_caller(request, uow.session, ALL_ROLES, enrolling=True)
        account.log_out_everywhere(uow.session, caller.person_id, _now(request))

    await in_unit_of_work(request, end)
    response = RedirectResponse("/console/login?done=logged_out", status_code=303)
    response.delete_cookie("staff_session", path="/console")
    return response


# -- /console/members ---------------------------------------------------------------------


def _members(
    request: Request, uow: UnitOfWork, caller: ConsoleCaller, **extra: Any
) -> dict[str, Any]:
    rows = service.list_members(uow.session, caller.venue_id)
    context: dict[str, Any] = {
        "caller": caller,
        "members": rows,
        "roles": ROLES,
        "errors": errors_of(request, None),
        "entered": {},
        "done": None,
    }
    context.update(extra)
    return context


@console_page
async def members_page(request: Request) -> Response:
    def load(uow: UnitOfWork) -> dict[str, Any]:
        return _members(request, uow, console_caller(request, uow.session, ADMIN))

    return render(request, "console/members.html", await in_unit_of_work(request, load))


async def _members_action(request: Request, act: Any) -> Response:
    form = await console_form(request)

    def run(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ADMIN)
        done = act(uow, caller, form)
        return _members(request, uow, caller, done=done)

    try:
        context = await in_unit_of_work(request, run)
    except ServiceError as caught:
        error = caught
        if error.status in (401, 403):
            raise

        def again(uow: UnitOfWork) -> dict[str, Any]:
            caller = console_caller(request, uow.session, ADMIN)
            entered = {name: _text(form, name) for name in ("email", "name", "role")}
            return _members(request, uow, caller, errors=errors_of(request, error), entered=entered)

        context = await in_unit_of_work(request, again)
        return render(
            request, "console/members.html", context, status=error.status, headers=error.headers
        )
    return render(request, "console/members.html", context)


@console_page
async def invite(request: Request) -> Response:
    settings = request.app.state.resources.settings

    def act(uow: UnitOfWork, caller: ConsoleCaller, form: FormData) -> str:
        email = service.normalise_email(_text(form, "email", 254))
        if not re.fullmatch(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,60}", email):
            raise ValidationFailed(
                "Enter an e-mail address.", fields={"email": "not an e-mail address"}
            )
        service.add_member(
            uow.session,
            settings,
            venue_id=caller.venue_id,
            email=email,
            name=_text(form, "name", 200),
            role=_text(form, "role", 16),
            now=_now(request),
        )
        return "invited"

    return await _members_action(request, act)


@console_page
async def change_role(request: Request) -> Response:
    membership_id = _path_id(request, "membership_id")

    def act(uow: UnitOfWork, caller: ConsoleCaller, form: FormData) -> str:
        service.change_role(uow.session, caller.venue_id, membership_id, _text(form, "role", 16))
        return "role_changed"

    return await _members_action(request, act)


@console_page
async def remove_member(request: Request) -> Response:
    membership_id = _path_id(request, "membership_id")

    def act(uow: UnitOfWork, caller: ConsoleCaller, form: FormData) -> str:
        service.remove_member(uow.session, caller.venue_id, membership_id, _now(request))
        return "removed"

    return await _members_action(request, act)


# -- /console/api-keys --------------------------------------------------------------------


def _keys(request: Request, uow: UnitOfWork, caller: ConsoleCaller, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "caller": caller,
        "keys": venues.list_api_keys(uow.session, caller.venue_id),
        "errors": errors_of(request, None),
        "created": None,
        "done": None,
    }
    context.update(extra)
    return context


@console_page
async def api_keys_page(request: Request) -> Response:
    def load(uow: UnitOfWork) -> dict[str, Any]:
        return _keys(request, uow, console_caller(request, uow.session, ADMIN))

    return render(request, "console/api_keys.html", await in_unit_of_work(request, load))


async def _keys_action(request: Request, act: Any) -> Response:
    form = await console_form(request)

    def run(uow: UnitOfWork) -> dict[str, Any]:
        caller = console_caller(request, uow.session, ADMIN)
        return _keys(request, uow, caller, **act(uow, caller, form))

    try:
        context = await in_unit_of_work(request, run)
    except ServiceError as caught:
        error = caught
        if error.status in (401, 403):
            raise

        def again(uow: UnitOfWork) -> dict[str, Any]:
            caller = console_caller(request, uow.session, ADMIN)
            return _keys(request, uow, caller, errors=errors_of(request, error))

        context = await in_unit_of_work(request, again)
        return render(
            request, "console/api_keys.html", context, status=error.status, headers=error.headers
        )
    return render(request, "console/api_keys.html", context)


@console_page
async def create_key(request: Request) -> Response:
    def act(uow: UnitOfWork, caller: ConsoleCaller, form: FormData) -> dict[str, Any]:
        try:
            data = ApiKeyCreate.model_validate(
                {"role": _text(form, "role", 16), "label": _text(form, "label", 200)}
            )
        except ValidationError as exc:
            raise validation_failed(exc.errors()) from None
        key, clear = venues.create_api_key(uow.session, caller.venue_id, data, _now(request))
        return {"created": {"label": key.label, "role": key.role, "key": clear}}

    return await _keys_action(request, act)


@console_page
async def revoke_key(request: Request) -> Response:
    key_id = _path_id(request, "key_id")

    def act(uow: UnitOfWork, caller: ConsoleCaller, form: FormData) -> dict[str, Any]:
        venues.revoke_api_key(uow.session, caller.venue_id, key_id, _now(request))
        return {"done": "revoked"}

    return await _keys_action(request, act)


def _route(path: str, handler: Any, method: str) -> Route:
    return Route(path, handler, methods=[method], include_in_schema=False)


routes = [
    _route("/console/account", account_page, "GET"),
    _route("/console/account/totp", enable_totp, "POST"),
    _route("/console/account/totp/disable", disable_totp, "POST"),
    _route("/console/account/recovery-codes", regenerate_codes, "POST"),
    _route("/console/account/sessions/end", log_out_everywhere, "POST"),
    _route("/console/members", members_page, "GET"),
    _route("/console/members", invite, "POST"),
    _route("/console/members/{membership_id}/role", change_role, "POST"),
    _route("/console/members/{membership_id}/remove", remove_member, "POST"),
    _route("/console/api-keys", api_keys_page, "GET"),
    _route("/console/api-keys", create_key, "POST"),
    _route("/console/api-keys/{key_id}/revoke", revoke_key, "POST"),
]
