"""The platform console's guard: a signed-in platform admin with a second factor.

THE CONTRACT (for every `/platform` page)
    caller = platform_caller(request, session)
        inside the page's unit of work. The same console session as staff/console.py
        (the login sets its cookie for /console and /platform alike), the same write
        checks (same origin, CSRF token: read the form first with `console_form`). It
        gives a `PlatformCaller`, or raises
          NotSignedIn (401)            no live session: 303 /console/login?next=/platform
          Forbidden (403)              the person is no platform admin (a venue's staff)
          MfaEnrolmentRequired (403)   no second factor yet (always required here):
                                       303 /platform/account (`enrolling=True` there)
        It sets the audit actor to the platform admin (kind `platform`).
    @platform_page wraps a page handler: the redirects above.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from streamsvc.errors import Forbidden
from streamsvc.kit.context import Actor, actor_var
from streamsvc.staff.console import (
    MfaEnrolmentRequired,
    NotSignedIn,
    PageHandler,
    check_write,
    is_platform_admin,
    live_session,
)
from streamsvc.staff.models import Person

HOME = "/platform"
ACCOUNT = "/platform/account"


@dataclass(frozen=True)
class PlatformCaller:
    person_id: str
    name: str
    email: str
    has_totp: bool


def platform_caller(
    request: Request, session: Session, *, enrolling: bool = False
) -> PlatformCaller:
    """The signed-in platform admin (module docstring)."""
    check_write(request, request.app.state.resources.settings)
    row = live_session(request, session)
    person = session.get(Person, row.person_id) if row is not None else None
    if person is None:
        raise NotSignedIn("Log in to the console first.")
    if not is_platform_admin(session, person.id):
        raise Forbidden("This is for the platform operator's staff.", code="not_platform_admin")
    actor_var.set(Actor(kind="platform", id=person.id, label=person.display_name))
    if person.totp_secret is None and not enrolling:
        raise MfaEnrolmentRequired("Set up two-factor authentication first.")
    return PlatformCaller(
        person_id=person.id,
        name=person.display_name,
        email=person.email,
        has_totp=person.totp_secret is not None,
    )


def platform_page(handler: PageHandler) -> PageHandler:
    """NotSignedIn -> the login page (back here after); no second factor -> enrolment."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except NotSignedIn:
            return RedirectResponse(f"/console/login?next={HOME}", status_code=303)
        except MfaEnrolmentRequired:
            return RedirectResponse(ACCOUNT, status_code=303)

    return wrapped
