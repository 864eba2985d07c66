"""The watch page of a recording access, `/watch/recordings/{access_id}`, and the JSON
endpoints its script (the ticket page's player, js/watch.js) calls.

As for a ticket (pages.py): the access code is a bearer secret carried in the link's
fragment (`#code=…`), handed over once in a body and kept in an HttpOnly cookie
scoped to this page; the URL shows no secret.

    POST /watch/recordings/{access_id}/access     {"code"}     204, sets the cookie
    POST /watch/recordings/{access_id}/session    {"device_id"} 201 redeems (a rental's
                                                   first redemption starts its window)
    POST /watch/recordings/{access_id}/heartbeat  X-Viewing-Token 200; 403/410 once over
    POST /watch/recordings/{access_id}/end        X-Viewing-Token 204 frees the slot

Looking at the page never starts a rental: only the viewer pressing Start does.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streamsvc.errors import NotFound, ServiceError
from streamsvc.http.endpoint import Access, Call, endpoint, in_unit_of_work
from streamsvc.http.openapi import PATH_PARAMETER
from streamsvc.http.security import extend_csp
from streamsvc.recordings import window
from streamsvc.viewing import recording_routes, service
from streamsvc.viewing.pages import CODE_COOKIE, CodeHandover, WatchSession, _code, _origin
from streamsvc.viewing.routes import VIEWER, SessionCreate, TokenRenewed, _ms, _renewal
from streamsvc.viewing.tokens import RECORDING, Claims
from streamsvc.web.csrf import check_csrf
from streamsvc.web.rendering import render

# A purchase's page remembers its code for a year (browsers keep a cookie 400 days at most).
_KEEP_PURCHASE = timedelta(days=365)


def _cookie_path(access_id: str) -> str:
    return f"/watch/recordings/{access_id}"


def _own(call: Call, claims: Claims) -> Claims:
    if claims.kind != RECORDING or claims.ticket_id != call.path("access_id"):
        raise NotFound("This token is not for this recording access.")
    return claims


def _keep_until(playable: window.Playable) -> datetime | None:
    """How long the page needs its code: until a rental's window (or its start-by
    deadline, plus its hours) is past; None for a purchase or a free play."""
    if playable.ends_at is not None:
        return playable.ends_at
    if playable.start_by is not None and playable.watch_hours is not None:
        return playable.start_by + timedelta(hours=playable.watch_hours)
    return None


@endpoint(summary="Hand the recording watch page its access code once; it comes back as a "
          "cookie", tags=("pages",), access=Access.public, body=CodeHandover, status=204,
          errors=(403, 404))  # fmt: skip
def hand_over_code(call: Call, body: CodeHandover) -> Response:
    check_csrf(call.request)
    access_id, now = call.path("access_id"), call.clock.now()
    playable = window.watch_access(call.session, access_id, body.code, now)
    until = _keep_until(playable)
    # Kept a day past the window, so that "over" can still be told.
    keep = (until - now + timedelta(days=1)) if until is not None else _KEEP_PURCHASE
    response = Response(status_code=204)
    response.set_cookie(
        CODE_COOKIE, body.code, max_age=max(86_400, int(keep.total_seconds())),
        path=_cookie_path(access_id), httponly=True, samesite="strict",
        secure=call.request.app.state.pages.secure_cookies,
    )  # fmt: skip
    return response


@endpoint(summary="Redeem the recording access of the page's cookie on this device",
          tags=("pages",), access=Access.public, body=SessionCreate, response=WatchSession,
          status=201, errors=(403, 404, 410))  # fmt: skip
async def start_session(call: Call, body: SessionCreate) -> WatchSession:
    check_csrf(call.request)
    started = await recording_routes.start(
        call, _code(call.request), body.device_id, access_id=call.path("access_id")
    )
    return WatchSession(
        session_id=started.session_id, token=started.token, expires_at=started.expires_at,
        refresh_after=started.refresh_after, playlist=f"{started.base}/index.m3u8",
        renditions={q: f"{started.base}/{q}/index.m3u8" for q in started.qualities},
        qualities=list(started.qualities),
    )  # fmt: skip


@endpoint(summary="Renew the recording page's viewing token; 403/410 once access ended",
          tags=("pages",), access=VIEWER, response=TokenRenewed,
          errors=(403, 404, 410))  # fmt: skip
async def heartbeat(call: Call) -> TokenRenewed:
    claims, now = _own(call, VIEWER.of(call)), call.clock.now()
    state = await call.resources.viewing.heartbeat(claims.ticket_id, claims.session_id, _ms(now))
    service.refuse_state(state)
    closes_at = await call.in_unit_of_work(
        lambda uow: service.renewal_limit(uow.session, claims, now)
    )
    token, expires, refresh = _renewal(call, claims, closes_at)
    return TokenRenewed(session_id=claims.session_id, token=token, expires_at=expires,
                        refresh_after=refresh)  # fmt: skip


@endpoint(summary="End the recording page's viewing session and free this device's slot",
          tags=("pages",), access=VIEWER, status=204, errors=(404,))  # fmt: skip
async def end_session(call: Call) -> None:
    claims = _own(call, VIEWER.of(call))
    await call.resources.viewing.end_session(claims.ticket_id, claims.session_id)


def _hours_left(playable: window.Playable, now: datetime) -> int | None:
    """Whole hours left of a running rental's window (None: no window running)."""
    if playable.ends_at is None or now >= playable.ends_at:
        return None
    return int((playable.ends_at - now).total_seconds() // 3600)


async def watch_page(request: Request) -> Response:
    """The player; what it shows depends on the access of the cookie and the clock."""
    access_id = request.path_params["access_id"]
    if not re.fullmatch(PATH_PARAMETER, access_id):
        raise NotFound("No such recording access.")
    code = request.cookies.get(CODE_COOKIE)
    now = request.app.state.resources.clock.now()
    playable: window.Playable | None = None
    if code and len(code) <= 40:
        try:
            playable = await in_unit_of_work(
                request, lambda uow: window.watch_access(uow.session, access_id, code, now)
            )
        except ServiceError:
            playable = None  # a stale or foreign cookie: ask for the link again
    phase = playable.phase(now) if playable is not None else "no_code"
    origin = _origin(playable.playback) if playable is not None else None
    if origin is not None:  # as on the ticket's page: hls.js fetches and plays from there
        extend_csp(request, {"connect-src": [origin], "media-src": [origin, "data:"],
                             "worker-src": ["'self'", "blob:"]})  # fmt: skip
    return render(request, "watch_recording.html", {
        "access_id": access_id, "recording": playable, "phase": phase, "now": now,
        "base": _cookie_path(access_id),
        "hours_left": _hours_left(playable, now) if playable is not None else None,
    })  # fmt: skip


routes = [
    Route("/watch/recordings/{access_id}", watch_page, methods=["GET"], include_in_schema=False),
    Route("/watch/recordings/{access_id}/access", hand_over_code, methods=["POST"],
          include_in_schema=False),
    Route("/watch/recordings/{access_id}/session", start_session, methods=["POST"],
          include_in_schema=False),
    Route("/watch/recordings/{access_id}/heartbeat", heartbeat, methods=["POST"],
          include_in_schema=False),
    Route("/watch/recordings/{access_id}/end", end_session, methods=["POST"],
          include_in_schema=False),
]  # fmt: skip
