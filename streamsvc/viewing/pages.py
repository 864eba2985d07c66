"""The watch page, `/watch/{ticket_id}`, and the JSON endpoints its script calls.

The ticket code is a bearer secret: the mail and order links carry it in the URL
fragment (`#code=…`), which no server sees. The page hands it over once
(`POST /watch/{ticket_id}/access`, in the body) and gets it back as an HttpOnly
cookie scoped to `/watch/{ticket_id}`; from then on the URL shows no secret.

    POST /watch/{ticket_id}/access     {"code"}       204, sets the cookie (404: not this ticket's)
    POST /watch/{ticket_id}/session    {"device_id"}  201 redeems on this device (cookie)
    POST /watch/{ticket_id}/heartbeat  X-Viewing-Token  200 a fresh token; 403 once access ended
    POST /watch/{ticket_id}/end        X-Viewing-Token  204 frees this device's slot

They call the same viewing use cases as the JSON routes (streamsvc.viewing.routes) and
answer errors in the one error shape; the script turns the codes into states in words.
The cookie-authenticated POSTs carry the CSRF header; heartbeat and end are
authenticated by the viewing token alone.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, StringConstraints
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streamsvc.errors import Forbidden, NotFound, ServiceError
from streamsvc.http.endpoint import Access, Call, endpoint, in_unit_of_work
from streamsvc.http.openapi import PATH_PARAMETER
from streamsvc.http.security import extend_csp
from streamsvc.kit.ids import new_id
from streamsvc.kit.validation import WriteModel
from streamsvc.viewing import service, watching
from streamsvc.viewing.routes import VIEWER, SessionCreate, TokenRenewed, _country, _ms, _renewal
from streamsvc.viewing.tokens import Claims
from streamsvc.web.csrf import check_csrf
from streamsvc.web.rendering import render

CODE_COOKIE = "watch_code"
TicketCode = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
]


class CodeHandover(WriteModel):
    """The ticket code, handed over once from the link's fragment."""

    code: TicketCode


class WatchSession(BaseModel):
    session_id: str
    token: str  # send it with every playlist and segment request (?token=)
    expires_at: datetime
    refresh_after: datetime  # renew (heartbeat) before this
    playlist: str  # the event's master playlist
    renditions: dict[str, str]  # quality -> its own playlist, best last
    qualities: list[str]  # what the tier may play, lowest first


def _cookie_path(ticket_id: str) -> str:
    return f"/watch/{ticket_id}"


def _code(request: Request) -> str:
    code = request.cookies.get(CODE_COOKIE, "")
    if not code or len(code) > 40:
        raise NotFound(
            "Open the watch link from your ticket mail on this device.", code="no_ticket_code"
        )
    return code


def _own(call: Call, claims: Claims) -> Claims:
    if claims.ticket_id != call.path("ticket_id"):
        raise NotFound("This token is not for this ticket.")
    return claims


@endpoint(summary="Hand the watch page the ticket code once; it comes back as a cookie",
          tags=("pages",), access=Access.public, body=CodeHandover, status=204,
          errors=(403, 404))  # fmt: skip
def hand_over_code(call: Call, body: CodeHandover) -> Response:
    check_csrf(call.request)
    ticket_id, now = call.path("ticket_id"), call.clock.now()
    ticket = watching.watch_ticket(call.session, ticket_id, body.code)
    response = Response(status_code=204)
    # Kept until the viewing window closes (at least a day, so "ended" can be told).
    seconds = max(86_400, int((ticket.closes_at - now).total_seconds()) + 86_400)
    response.set_cookie(
        CODE_COOKIE, body.code, max_age=seconds, path=_cookie_path(ticket_id), httponly=True,
        samesite="strict", secure=call.request.app.state.pages.secure_cookies,
    )  # fmt: skip
    return response


@endpoint(summary="Redeem the ticket of the page's cookie on this device",
          tags=("pages",), access=Access.public, body=SessionCreate, response=WatchSession,
          status=201, errors=(403, 404))  # fmt: skip
async def start_session(call: Call, body: SessionCreate) -> WatchSession:
    check_csrf(call.request)
    code, now, settings = _code(call.request), call.clock.now(), call.settings
    country = _country(call.request)
    admission = await call.in_unit_of_work(
        lambda uow: service.admit(uow.session, code, now, country, settings)
    )
    if admission.ticket_id != call.path("ticket_id"):
        raise NotFound("No such ticket.")
    slot = await call.resources.viewing.start_session(
        admission.ticket_id, body.device_id, new_id("ses"), now_ms=_ms(now),
        max_devices=admission.max_devices, policy=admission.policy,
    )  # fmt: skip
    if slot.outcome == "device_limit":
        raise Forbidden(
            "This ticket already plays on as many devices as its tier allows.",
            code="device_limit", details={"max_devices": admission.max_devices},
        )  # fmt: skip
    if slot.outcome == "revoked":
        service.refuse_state(slot.session_id)
    await service.joined(call.resources.viewing, admission, slot, _ms(now))
    claims = Claims(slot.session_id, admission.ticket_id, admission.event_id,
                    admission.qualities, admission.extras, 0, 0)  # fmt: skip
    token, expires, refresh = _renewal(call, claims, admission.closes_at)
    base = f"{admission.playback}/{admission.event_id}"
    return WatchSession(
        session_id=slot.session_id, token=token, expires_at=expires, refresh_after=refresh,
        playlist=f"{base}/index.m3u8",
        renditions={q: f"{base}/{q}/index.m3u8" for q in admission.qualities},
        qualities=list(admission.qualities),
    )  # fmt: skip


@endpoint(summary="Renew the page's viewing token; 403 once access ended or was replaced",
          tags=("pages",), access=VIEWER, response=TokenRenewed, errors=(403, 404))  # fmt: skip
async def heartbeat(call: Call) -> TokenRenewed:
    claims, now = _own(call, VIEWER.of(call)), call.clock.now()
    state = await call.resources.viewing.heartbeat(claims.ticket_id, claims.session_id, _ms(now))
    await call.resources.viewing.audience.heartbeat(claims.event_id, claims.session_id, state,
                                                    _ms(now))  # fmt: skip
    service.refuse_state(state)
    closes_at = await call.in_unit_of_work(
        lambda uow: service.still_admitted(uow.session, claims.ticket_id, now)
    )
    token, expires, refresh = _renewal(call, claims, closes_at)
    return TokenRenewed(session_id=claims.session_id, token=token, expires_at=expires,
                        refresh_after=refresh)  # fmt: skip


@endpoint(summary="End the page's viewing session and free this device's slot",
          tags=("pages",), access=VIEWER, status=204, errors=(404,))  # fmt: skip
async def end_session(call: Call) -> None:
    claims = _own(call, VIEWER.of(call))
    ended = await call.resources.viewing.end_session(claims.ticket_id, claims.session_id)
    await call.resources.viewing.audience.left(claims.event_id, claims.session_id,
                                               _ms(call.clock.now()), played=ended)  # fmt: skip


def _origin(url: str) -> str | None:
    """The origin of the event's playback URL (scheme, host, port; no user info)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # not a number
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


async def watch_page(request: Request) -> Response:
    """The player; what it shows depends on the ticket of the cookie and the clock."""
    ticket_id = request.path_params["ticket_id"]
    if not re.fullmatch(PATH_PARAMETER, ticket_id):
        raise NotFound("No such ticket.")
    code = request.cookies.get(CODE_COOKIE)
    ticket: watching.WatchTicket | None = None
    if code and len(code) <= 40:
        try:
            ticket = await in_unit_of_work(
                request, lambda uow: watching.watch_ticket(uow.session, ticket_id, code)
            )
        except ServiceError:
            ticket = None  # a stale or foreign cookie: ask for the link again
    now = request.app.state.resources.clock.now()
    phase = ticket.phase(now) if ticket is not None else "no_code"
    origin = _origin(ticket.playback) if ticket is not None else None
    if origin is not None:
        # The stream comes from the media origin: hls.js fetches it, the video plays it.
        # hls.js transmuxes in a worker it makes from a blob: URL of its own code, and
        # gives the video's subtitle <track> an empty `data:,WEBVTT` source.
        extend_csp(request, {"connect-src": [origin], "media-src": [origin, "data:"],
                             "worker-src": ["'self'", "blob:"]})  # fmt: skip
    return render(request, "watch.html", {
        "ticket_id": ticket_id, "ticket": ticket, "phase": phase, "now": now,
        "base": _cookie_path(ticket_id),
    })  # fmt: skip


routes = [
    Route("/watch/{ticket_id}", watch_page, methods=["GET"], include_in_schema=False),
    Route("/watch/{ticket_id}/access", hand_over_code, methods=["POST"], include_in_schema=False),
    Route("/watch/{ticket_id}/session", start_session, methods=["POST"], include_in_schema=False),
    Route("/watch/{ticket_id}/heartbeat", heartbeat, methods=["POST"], include_in_schema=False),
    Route("/watch/{ticket_id}/end", end_session, methods=["POST"], include_in_schema=False),
]
