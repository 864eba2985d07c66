"""The staff's way in: /console/login (password, then code), /console/logout, the
invitation and password-reset links, /console/password/forgot, and the venue switch.

Thin: parse the form, check CSRF and origin, call login.py / service.py, render.
The login rotates the CSRF cookie (as does the logout), so a token from before it is
worth nothing after it.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from config.settings import Settings
from streamsvc.errors import NotFound, RateLimited, ServiceError, ValidationFailed
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.kit.ratelimit import over_limit
from streamsvc.staff import service, sessions
from streamsvc.staff.console import (
    ALL_ROLES,
    check_same_origin,
    console_caller,
    console_form,
    console_page,
    live_session,
    safe_next,
    secure_cookies,
)
from streamsvc.staff.login import LoginExpired, Logins, start_session
from streamsvc.staff.throttle import PENDING_SECONDS, LoginThrottle, PendingLogins
from streamsvc.staff.words import errors_of
from streamsvc.web.csrf import CSRF_COOKIE, check_csrf
from streamsvc.web.rendering import render

PENDING_COOKIE = "staff_login"
_FORGOT_WINDOW = 3600


def _resources(request: Request) -> Any:
    return request.app.state.resources


def _settings(request: Request) -> Settings:
    settings: Settings = _resources(request).settings
    return settings


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _text(form: FormData, name: str, limit: int = 256) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def logins(request: Request) -> Logins:
    resources = _resources(request)
    return Logins(
        resources.database,
        LoginThrottle(resources.redis, resources.settings),
        PendingLogins(resources.redis),
        resources.settings,
    )


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    settings = _settings(request)
    for path in (sessions.COOKIE_PATH, sessions.PLATFORM_COOKIE_PATH):
        response.set_cookie(
            sessions.SESSION_COOKIE,
            token,
            max_age=settings.staff_session_absolute_hours * 3600,
            path=path,
            httponly=True,
            samesite="lax",
            secure=secure_cookies(settings),
        )
    response.delete_cookie(PENDING_COOKIE, path="/console/login")
    # A fresh CSRF nonce with the new session: a token seen before the login is useless.
    response.delete_cookie(CSRF_COOKIE, path="/")


async def _write_form(request: Request) -> FormData:
    form = await console_form(request)
    check_same_origin(request, _settings(request))
    check_csrf(request, form)
    return form


# -- /console/login -----------------------------------------------------------------


def _login_page(
    request: Request,
    *,
    step: str = "password",
    email: str = "",
    next_path: str = "/console",
    error: ServiceError | None = None,
    notice: str | None = None,
) -> Response:
    status, headers = (error.status, error.headers) if error else (200, {})
    context = {
        "step": step,
        "email": email,
        "next": next_path,
        "errors": errors_of(request, error),
        "notice": notice,
    }
    return render(request, "console/login.html", context, status=status, headers=headers)


async def login_page(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    notice = request.query_params.get("done")
    return _login_page(
        request,
        next_path=next_path,
        notice=notice if notice in ("password_set", "logged_out") else None,
    )


async def login(request: Request) -> Response:
    """The password step: signed in, or on to the code step."""
    form = await _write_form(request)
    email, next_path = _text(form, "email", 254), safe_next(form.get("next"))
    now = _resources(request).clock.now()
    try:
        outcome = await logins(request).password_step(
            email, _text(form, "password"), client_address(request), now
        )
    except ServiceError as error:
        return _login_page(request, email=email, next_path=next_path, error=error)
    if outcome.session_token is not None:
        response = RedirectResponse(next_path, status_code=303)
        set_session_cookie(request, response, outcome.session_token)
        return response
    assert outcome.pending_token is not None
    page = _login_page(request, step="code", email=email, next_path=next_path)
    page.set_cookie(
        PENDING_COOKIE,
        outcome.pending_token,
        max_age=PENDING_SECONDS,
        path="/console/login",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(_settings(request)),
    )
    return page


async def login_code(request: Request) -> Response:
    """The code step: a one-time code from the app, or a recovery code."""
    form = await _write_form(request)
    next_path = safe_next(form.get("next"))
    now = _resources(request).clock.now()
    try:
        outcome = await logins(request).code_step(
            request.cookies.get(PENDING_COOKIE),
            _text(form, "code", 64),
            client_address(request),
            now,
        )
    except LoginExpired as error:
        return _login_page(request, next_path=next_path, error=error)
    except ServiceError as error:
        return _login_page(request, step="code", next_path=next_path, error=error)
    assert outcome.session_token is not None
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(request, response, outcome.session_token)
    return response


async def logout(request: Request) -> Response:
    await _write_form(request)
    token = request.cookies.get(sessions.SESSION_COOKIE)
    now = _resources(request).clock.now()
    await in_unit_of_work(request, lambda uow: sessions.end(uow.session, token, now))
    response = RedirectResponse("/console/login?done=logged_out", status_code=303)
    response.delete_cookie(sessions.SESSION_COOKIE, path=sessions.COOKIE_PATH)
    response.delete_cookie(sessions.SESSION_COOKIE, path=sessions.PLATFORM_COOKIE_PATH)
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


# -- invitation and reset links -----------------------------------------------------


def _link_page(
    request: Request, *, invitation: bool, token: str = "", error: ServiceError | None = None
) -> Response:
    status, headers = (error.status, error.headers) if error else (200, {})
    context = {
        "invitation": invitation,
        "token": token,
        "errors": errors_of(request, error),
        "min_length": _settings(request).staff_password_min_length,
    }
    template = "console/invitation.html" if invitation else "console/password_reset.html"
    return render(request, template, context, status=status, headers=headers)


async def invitation_page(request: Request) -> Response:
    return _link_page(request, invitation=True)


async def reset_page(request: Request) -> Response:
    return _link_page(request, invitation=False)


async def _set_password(request: Request, *, invitation: bool) -> Response:
    form = await _write_form(request)
    token, password = _text(form, "token", 100), _text(form, "password")
    settings, now = _settings(request), _resources(request).clock.now()
    try:
        if password != _text(form, "password_again"):
            raise ValidationFailed(
                "The passwords differ.",
                code="passwords_differ",
                fields={"password_again": "not the same password"},
            )

        def use(uow: Any) -> str | None:
            person = service.set_password_by_link(
                uow.session, settings, token, password, now, invitation=invitation
            )
            # An invitation signs a person without a second factor straight in (the mail
            # proved the address); anyone else logs in with the new password.
            if not invitation or person.totp_secret is not None:
                return None
            return start_session(uow.session, settings, person, now, step="invitation")

        session_token = await in_unit_of_work(request, use)
    except ServiceError as error:
        return _link_page(request, invitation=invitation, token=token, error=error)
    if session_token is None:
        return RedirectResponse("/console/login?done=password_set", status_code=303)
    response = RedirectResponse("/console/account", status_code=303)
    set_session_cookie(request, response, session_token)
    return response


async def accept_invitation(request: Request) -> Response:
    return await _set_password(request, invitation=True)


async def reset_password(request: Request) -> Response:
    return await _set_password(request, invitation=False)


# -- /console/password/forgot ---------------------------------------------------------


async def forgot_page(request: Request) -> Response:
    return render(
        request,
        "console/password_forgot.html",
        {"sent": False, "email": "", "errors": errors_of(request, None)},
    )


async def forgot(request: Request) -> Response:
    """Mail a reset link when the address is a member's; the same answer otherwise."""
    form = await _write_form(request)
    email = service.normalise_email(_text(form, "email", 254))
    resources = _resources(request)
    now = resources.clock.now()
    try:
        for name, limit in (
            (f"staff-reset:ip:{client_address(request)}", 20),
            (f"staff-reset:email:{email}", 3),
        ):
            wait = await over_limit(resources.redis, name, limit, _FORGOT_WINDOW, now.timestamp())
            if wait is not None:
                raise RateLimited("Too many requests; try again later.", retry_after=wait)
        if "@" in email:
            await in_unit_of_work(
                request,
                lambda uow: service.request_password_reset(
                    uow.session, resources.settings, email, now
                ),
            )
    except ServiceError as error:
        return render(
            request,
            "console/password_forgot.html",
            {"sent": False, "email": email, "errors": errors_of(request, error)},
            status=error.status,
            headers=error.headers,
        )
    return render(
        request,
        "console/password_forgot.html",
        {"sent": True, "email": "", "errors": errors_of(request, None)},
    )


# -- the venue switch ---------------------------------------------------------------------


@console_page
async def switch_venue(request: Request) -> Response:
    form = await console_form(request)
    venue_id = _text(form, "venue_id", 40)

    def switch(uow: Any) -> None:
        caller = console_caller(request, uow.session, ALL_ROLES, enrolling=True)
        if not any(v == venue_id for v, _, _ in caller.venues):
            raise NotFound("No such venue.")
        row = live_session(request, uow.session)
        assert row is not None
        sessions.switch_venue(uow.session, row, venue_id)

    await in_unit_of_work(request, switch)
    return RedirectResponse("/console", status_code=303)


routes = [
    Route("/console/login", login_page, methods=["GET"], include_in_schema=False),
    Route("/console/login", login, methods=["POST"], include_in_schema=False),
    Route("/console/login/code", login_code, methods=["POST"], include_in_schema=False),
    Route("/console/logout", logout, methods=["POST"], include_in_schema=False),
    Route("/console/invitations/accept", invitation_page, methods=["GET"], include_in_schema=False),
    Route(
        "/console/invitations/accept", accept_invitation, methods=["POST"], include_in_schema=False
    ),
    Route("/console/password/reset", reset_page, methods=["GET"], include_in_schema=False),
    Route("/console/password/reset", reset_password, methods=["POST"], include_in_schema=False),
    Route("/console/password/forgot", forgot_page, methods=["GET"], include_in_schema=False),
    Route("/console/password/forgot", forgot, methods=["POST"], include_in_schema=False),
    Route("/console/venue", switch_venue, methods=["POST"], include_in_schema=False),
]
