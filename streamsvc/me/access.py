"""The `/me` guard: which person is signed in, and which performer rows are theirs.

    person = me_caller(request, session)       inside the page's unit of work
reads the `performer_session` cookie, checks the session's timeouts and gives the
person's e-mail address and performer rows (reading.py), or raises NotSignedIn
(pages answer 303 /me/sign-in). For a write it first requires a same-origin request
and the CSRF token (as the console does; the form is read beforehand with
`me_form`). `act_as(row)` makes the audit log name the performer as the actor.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from config.settings import Settings
from streamsvc.errors import NotFound, Unauthenticated
from streamsvc.kit.context import Actor, actor_var
from streamsvc.me import reading, signin
from streamsvc.staff.console import check_same_origin
from streamsvc.web.csrf import check_csrf
from streamsvc.web.forms import read_form

SIGN_IN_PATH = "/me/sign-in"


class NotSignedIn(Unauthenticated):
    status, code = 401, "not_signed_in"


@dataclass(frozen=True)
class Person:
    email: str
    rows: list[reading.Mine]

    def row(self, performer_id: str) -> reading.Mine:
        """One of the person's performer rows, or 404 (another party's is unknown)."""
        for row in self.rows:
            if row.performer.id == performer_id:
                return row
        raise NotFound("No such performer.")


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.resources.settings
    return settings


def now_of(request: Request) -> datetime:
    now: datetime = request.app.state.resources.clock.now()
    return now


def secure_cookies(settings: Settings) -> bool:
    return settings.public_url.startswith("https://") or settings.is_production


async def me_form(request: Request) -> FormData:
    """Read a `/me` form once; the guard finds its `csrf_token` in it."""
    form = await read_form(request)
    request.state.me_form = form
    return form


def check_write(request: Request) -> None:
    if request.method in ("GET", "HEAD"):
        return
    check_same_origin(request, settings_of(request))
    check_csrf(request, getattr(request.state, "me_form", None))


def me_caller(request: Request, session: Session) -> Person:
    """The signed-in person (module docstring)."""
    check_write(request)
    now = now_of(request)
    token = request.cookies.get(signin.SESSION_COOKIE)
    row = signin.current_session(session, token, now)
    if row is None:
        raise NotSignedIn("Sign in with the link we mail you first.")
    rows = reading.performers(session, row.email)
    if not rows:  # no venue has this address any more: the session is over
        signin.end_session(session, token, now)
        raise NotSignedIn("Sign in with the link we mail you first.")
    return Person(row.email, rows)


def act_as(row: reading.Mine) -> None:
    """What follows is the performer's own action, in its venue's audit log."""
    performer = row.performer
    actor_var.set(Actor(kind="performer", id=performer.id, label=performer.name))


PageHandler = Callable[[Request], Awaitable[Response]]


def me_page(handler: PageHandler) -> PageHandler:
    """NotSignedIn -> the sign-in page; other errors go on to the app's error page."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except NotSignedIn:
            return RedirectResponse(SIGN_IN_PATH, status_code=303)

    return wrapped
