"""The console guard: who is signed in, at which venue, in which role.

THE CONTRACT (for every `/console` page and `/console/...` JSON route)
    caller = console_caller(request, session, roles=frozenset({"admin", "finance"}))
        inside the page's unit of work (`in_unit_of_work`). It reads the `staff_session`
        cookie (HttpOnly, SameSite=Lax, Path=/console; Secure when the site is served
        over https or in production), checks the idle and absolute timeouts, and gives a
        `ConsoleCaller`, or raises
          NotSignedIn (401)            no live session: pages answer 303 /console/login?next=
          MfaEnrolmentRequired (403)   an admin of a venue requiring two factors has none
                                       yet: pages answer 303 /console/account
          PlatformSession (403)        a platform admin's session at no venue: pages
                                       answer 303 /platform (streamsvc/platform)
          Forbidden (403)              the role is not in `roles`
        For a write (any method but GET/HEAD) it first requires a same-origin `Origin` (or
        `Referer`) when the browser sent one, and the CSRF token of web/csrf.py: the
        `X-CSRF-Token` header, or the form's `csrf_token` field, read beforehand with
        `form = await console_form(request)`.
        It sets the audit actor (kit/context.py) to the staff member.
    @console_page
        wraps an async page handler: NotSignedIn, MfaEnrolmentRequired and PlatformSession
        become the 303 redirects above; other errors go on to the app's error page.
    A suspended venue (streamsvc/platform) counts as no membership: its members' sessions
    there end.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, urlsplit

from sqlmodel import Session, col, select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from config.settings import Settings
from streamsvc.errors import Forbidden, Unauthenticated
from streamsvc.kit.context import Actor, actor_var
from streamsvc.staff import sessions
from streamsvc.staff.models import Membership, Person, PlatformAdmin, StaffSession
from streamsvc.venues.models import Venue
from streamsvc.web.csrf import check_csrf
from streamsvc.web.forms import read_form

ALL_ROLES = frozenset({"admin", "finance", "door"})
ADMIN = frozenset({"admin"})
_SAFE_METHODS = ("GET", "HEAD")


class NotSignedIn(Unauthenticated):
    status, code = 401, "not_signed_in"


class MfaEnrolmentRequired(Forbidden):
    status, code = 403, "mfa_enrolment_required"


class PlatformSession(Forbidden):
    """A platform admin's session at no venue: the platform console, not a venue's."""

    status, code = 403, "platform_session"


@dataclass(frozen=True)
class ConsoleCaller:
    person_id: str
    name: str
    email: str
    venue_id: str
    role: str
    # (venue_id, venue name, role) of every membership, for the venue switcher.
    venues: list[tuple[str, str, str]] = field(default_factory=list)
    has_totp: bool = False

    @property
    def venue_name(self) -> str:
        return next((name for vid, name, _ in self.venues if vid == self.venue_id), "")


def mfa_required(venue: Venue, settings: Settings) -> bool:
    """Whether this venue's admins need a second factor (None: required in production)."""
    if venue.require_mfa_for_admins is None:
        return settings.is_production
    return venue.require_mfa_for_admins


def memberships(session: Session, person_id: str) -> list[tuple[Membership, Venue]]:
    """The person's memberships of venues that are not suspended (a suspended venue's
    console is closed to its members: streamsvc/platform)."""
    query = (
        select(Membership, Venue)
        .join(Venue, col(Venue.id) == col(Membership.venue_id))
        .where(Membership.person_id == person_id, col(Venue.suspended_at).is_(None))
        .order_by(col(Venue.name), col(Venue.id))
    )
    return [(membership, venue) for membership, venue in session.exec(query)]


def is_platform_admin(session: Session, person_id: str) -> bool:
    return session.get(PlatformAdmin, person_id) is not None


def secure_cookies(settings: Settings) -> bool:
    return settings.public_url.startswith("https://") or settings.is_production


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_same_origin(request: Request, settings: Settings) -> None:
    """403 when the browser says the request comes from another site (Origin, else Referer)."""
    allowed = {_origin(settings.public_url), _origin(str(request.base_url))}
    origin = request.headers.get("origin")
    # "null": our own pages send it, their Referrer-Policy being no-referrer; it says
    # nothing either way, so the CSRF token decides alone.
    if origin == "null":
        origin = None
    if origin is None:
        referer = request.headers.get("referer")
        origin = _origin(referer) if referer else None
    if origin is not None and origin.lower() not in allowed:
        raise Forbidden("This request did not come from this site.", code="csrf_failed")


async def console_form(request: Request) -> FormData:
    """Read a console form once; the guard finds its `csrf_token` in it."""
    form = await read_form(request)
    request.state.console_form = form
    return form


def check_write(request: Request, settings: Settings) -> None:
    """Same origin and CSRF token, for every console request that changes something."""
    if request.method in _SAFE_METHODS:
        return
    check_same_origin(request, settings)
    check_csrf(request, getattr(request.state, "console_form", None))


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.resources.settings
    return settings


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.resources.clock.now()
    return now


def live_session(request: Request, session: Session) -> StaffSession | None:
    return sessions.current(session, request.cookies.get(sessions.SESSION_COOKIE), _now(request))


def console_caller(
    request: Request, session: Session, roles: frozenset[str], *, enrolling: bool = False
) -> ConsoleCaller:
    """The signed-in staff member (module docstring); `enrolling` lets an admin who must
    still enrol a second factor reach the account page."""
    settings = _settings(request)
    check_write(request, settings)
    row = live_session(request, session)
    if row is None:
        raise NotSignedIn("Log in to the console first.")
    person = session.get(Person, row.person_id)
    if person is None:
        raise NotSignedIn("Log in to the console first.")
    if row.venue_id is None:  # a platform admin at no venue
        raise PlatformSession("This session is for the platform console.")
    found = memberships(session, person.id)
    here = next(((m, v) for m, v in found if v.id == row.venue_id), None)
    if here is None:  # removed from this venue (or it was suspended) since: it is over
        row.ended_at = _now(request)
        session.add(row)
        raise NotSignedIn("Log in to the console first.")
    membership, venue = here
    actor_var.set(Actor(kind="staff", id=person.id, label=person.display_name))
    caller = ConsoleCaller(
        person_id=person.id,
        name=person.display_name,
        email=person.email,
        venue_id=venue.id,
        role=membership.role,
        venues=[(v.id, v.name, m.role) for m, v in found],
        has_totp=person.totp_secret is not None,
    )
    if (
        not enrolling
        and membership.role == "admin"
        and person.totp_secret is None
        and mfa_required(venue, settings)
    ):
        raise MfaEnrolmentRequired("Set up two-factor authentication first.")
    if membership.role not in roles:
        raise Forbidden("Your role at this venue does not allow this.")
    return caller


def login_redirect(request: Request) -> RedirectResponse:
    """To the login page, coming back here afterwards (a path, never a secret)."""
    target = request.url.path if request.method in _SAFE_METHODS else "/console"
    return RedirectResponse(f"/console/login?next={quote(target, safe='/')}", status_code=303)


PageHandler = Callable[[Request], Awaitable[Response]]


def console_page(handler: PageHandler) -> PageHandler:
    """NotSignedIn -> the login page; MfaEnrolmentRequired -> the account page."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except NotSignedIn:
            return login_redirect(request)
        except MfaEnrolmentRequired:
            return RedirectResponse("/console/account", status_code=303)
        except PlatformSession:
            return RedirectResponse("/platform", status_code=303)

    return wrapped


def safe_next(value: object) -> str:
    """Where to go after the login: a path of the console (or of the platform console),
    else the console itself."""
    if (
        isinstance(value, str)
        and value.startswith(("/console", "/platform"))
        and "//" not in value
        and len(value) <= 200
        and all(c.isalnum() or c in "/-_." for c in value)
    ):
        return value
    return "/console"
