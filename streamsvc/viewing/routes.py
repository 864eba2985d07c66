"""Viewing routes: redeem, heartbeat, end; authorize and the media-server adapters."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streamsvc.errors import Forbidden, NotFound, ServiceError
from streamsvc.http.endpoint import Access, Call, Guard, endpoint
from streamsvc.http.openapi import operation
from streamsvc.kit.ids import new_id
from streamsvc.kit.validation import WriteModel
from streamsvc.viewing import service
from streamsvc.viewing.access import app_and_stream, split_uri, split_url
from streamsvc.viewing.tokens import EVENT, Claims

DeviceId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")
]


class SessionCreate(WriteModel):
    device_id: DeviceId = Field(
        description="A stable id the player picks for this device (printable ASCII, at "
        "most 128); redeeming again from the same device keeps its slot."
    )


class Playback(BaseModel):
    url: str = Field(
        description="The playlist of the best quality the tier has; send the token with "
        "every request for it and its segments."
    )
    qualities: list[str] = Field(description="The qualities the ticket plays (`sd`, `hd`, `uhd`).")


SESSION_ID = "The viewing session's id (`ses_…`); DELETE it to free the device slot."
SENT_AS = "send it as `Authorization: Bearer`, `X-Viewing-Token` or `?token=`."
EXPIRES_AT = "When the token expires: RFC 3339 with offset."
REFRESH_AFTER = "When to renew it by heartbeat (halfway): RFC 3339 with offset."


class SessionStarted(BaseModel):
    session_id: str = Field(description=SESSION_ID)
    token: str = Field(description="The viewing token (`v1.…`); " + SENT_AS)
    expires_at: datetime = Field(description=EXPIRES_AT)
    refresh_after: datetime = Field(description=REFRESH_AFTER)
    playback: Playback = Field(description="What to play.")


class TokenRenewed(BaseModel):
    session_id: str = Field(description=SESSION_ID)
    token: str = Field(description="A new viewing token, for the same session; " + SENT_AS)
    expires_at: datetime = Field(description=EXPIRES_AT)
    refresh_after: datetime = Field(description=REFRESH_AFTER)


def _country(request: Request) -> str | None:
    value = request.headers.get(request.app.state.resources.settings.country_header, "").upper()
    # Cloudflare says XX (unknown) and T1 (Tor): neither is a country.
    return value if len(value) == 2 and value.isalpha() and value != "XX" else None


def _token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-viewing-token") or request.query_params.get("token")


def _viewer(request: Request) -> Claims:
    """The caller of heartbeat and end-session: a valid viewing token (401 if not)."""
    resources = request.app.state.resources
    return service.verify(resources.signer, _token(request), resources.settings,
                          resources.clock.now())  # fmt: skip


VIEWER = Guard(
    scheme="viewer",
    description="A viewing token: Authorization: Bearer, X-Viewing-Token or ?token=.",
    check=_viewer,
)


def _renewal(call: Call, claims: Claims, closes_at: datetime) -> tuple[str, datetime, datetime]:
    """A fresh token for this session: it ends with the window, and is renewed halfway."""
    now = call.clock.now()
    expires = min(now + timedelta(seconds=call.settings.viewing_token_ttl_seconds), closes_at)
    fresh = replace(claims, issued_at=int(now.timestamp()), expires_at=int(expires.timestamp()))
    token = call.resources.signer.sign(fresh)
    return token, expires, now + (expires - now) / 2


@endpoint(
    summary="Redeem a ticket on a device: a viewing session and a short-lived token",
    tags=("viewing",), access=Access.public, body=SessionCreate, response=SessionStarted,
    status=201, errors=(403, 404),
)  # fmt: skip
async def start_session(call: Call, body: SessionCreate) -> SessionStarted:
    code, now, settings = call.path("code"), call.clock.now(), call.settings
    country = _country(call.request)
    # One statement on the event loop, outside a transaction: no thread, no pre-ping.
    admission = await service.admit_code(call.resources.reads, code, now, country, settings)
    slot = await call.resources.viewing.start_session(
        admission.ticket_id, body.device_id, new_id("ses"), now_ms=_ms(now),
        max_devices=admission.max_devices, policy=admission.policy,
    )  # fmt: skip
    if slot.outcome == "device_limit":
        raise Forbidden(
            "This ticket already plays on as many devices as its tier allows.",
            code="device_limit",
            details={"max_devices": admission.max_devices},
        )
    if slot.outcome == "revoked":
        service.refuse_state(slot.session_id)
    await service.joined(call.resources.viewing, admission, slot, _ms(now))
    claims = Claims(slot.session_id, admission.ticket_id, admission.event_id,
                    admission.qualities, admission.extras, 0, 0)  # fmt: skip
    token, expires, refresh = _renewal(call, claims, admission.closes_at)
    best = admission.qualities[-1]
    return SessionStarted(
        session_id=slot.session_id, token=token, expires_at=expires, refresh_after=refresh,
        playback=Playback(url=f"{admission.playback}/{admission.event_id}/{best}/index.m3u8",
                          qualities=list(admission.qualities)),
    )  # fmt: skip


@endpoint(
    summary="Renew the viewing token (send the current one); 403 once revoked or replaced, "
    "410 once a rental's window is over",
    tags=("viewing",), access=VIEWER, response=TokenRenewed, errors=(403, 410),
)  # fmt: skip
async def heartbeat(call: Call) -> TokenRenewed:
    claims, now = VIEWER.of(call), call.clock.now()
    state = await call.resources.viewing.heartbeat(claims.ticket_id, claims.session_id, _ms(now))
    if claims.kind == EVENT:  # an event's audience; a recording has none (yet)
        await call.resources.viewing.audience.heartbeat(claims.event_id, claims.session_id,
                                                        state, _ms(now))  # fmt: skip
    service.refuse_state(state)
    closes_at = await call.in_unit_of_work(
        lambda uow: service.renewal_limit(uow.session, claims, now)
    )
    token, expires, refresh = _renewal(call, claims, closes_at)
    return TokenRenewed(session_id=claims.session_id, token=token, expires_at=expires,
                        refresh_after=refresh)  # fmt: skip


@endpoint(
    summary="End a viewing session (send its token) and free the device slot",
    tags=("viewing",), access=VIEWER, response=None, status=204, errors=(404,),
)  # fmt: skip
async def end_session(call: Call) -> None:
    claims = VIEWER.of(call)
    if claims.session_id != call.path("session_id"):
        raise NotFound("No such session for this token.")
    ended = await call.resources.viewing.end_session(claims.ticket_id, claims.session_id)
    if claims.kind == EVENT:
        await call.resources.viewing.audience.left(claims.event_id, claims.session_id,
                                                   _ms(call.clock.now()), played=ended)  # fmt: skip


async def _check(request: Request, token: str | None, path: str | None = None,
                 stream: tuple[str, str] | None = None) -> Claims:  # fmt: skip
    resources = request.app.state.resources
    return await service.authorize(resources.viewing, resources.signer, resources.settings,
                                   token=token, path=path, stream=stream,
                                   now=resources.clock.now())  # fmt: skip


# The hot path stays raw Starlette: no body, no unit of work, nothing to validate but
# the token, and every microsecond of it is multiplied by each segment of each viewer.
@operation(
    summary="Authorize a playlist or segment request (nginx auth_request): 204, 401 or 403",
    tags=("viewing",), responses={204: None}, errors=(401, 403),
)  # fmt: skip
async def authorize(request: Request) -> Response:
    # The URI nginx serves (its normalised `$uri`); a raw one is normalised the same way.
    # Without it only the token could be checked: refused unless a setting allows it.
    original = request.headers.get("x-original-uri")
    path, uri_token = split_uri(original) if original is not None else (None, None)
    try:
        await _check(request, _token(request) or uri_token, path)
    except ServiceError as exc:
        return JSONResponse(exc.body(), status_code=service.status_of(exc), headers=exc.headers)
    return Response(status_code=204)


# --- Media-server hooks: they answer in the server's own protocol -----------------
# A body that is not a JSON object is a 400 (either server reads any non-200 as a
# refusal); a refusal of anything else, invalid fields included, is a 200 answer.

HookText = Annotated[str, Field(max_length=256)]
HookUrl = Annotated[str, Field(max_length=4096)]


class SrsHook(BaseModel):
    """What SRS posts to on_play (only these fields are read; SRS sends more)."""

    model_config = {"extra": "allow"}
    app: HookText = Field(default="", description="The event's id (`evt_…`).")
    stream: HookText = Field(
        default="", description="The rendition: a quality, subs-{language} or {extra}-{quality}."
    )
    param: HookUrl | None = Field(default="", description="The play URL's query: `?token=…`.")


class SrsAnswer(BaseModel):
    code: int = Field(description="0 allows; anything else (the HTTP status) refuses.")


def _srs_refusal(error: ServiceError) -> SrsAnswer:
    return SrsAnswer(code=service.status_of(error))


@endpoint(summary="SRS on_play hook: app = event id, stream = rendition, ?token= in param",
          tags=("viewing",), access=Access.public, body=SrsHook, response=SrsAnswer,
          refusal=_srs_refusal)  # fmt: skip
async def srs_on_play(call: Call, body: SrsHook) -> SrsAnswer:
    _, token = split_uri(f"/x{body.param or ''}")
    await _check(call.request, token, stream=(body.app, body.stream))
    return SrsAnswer(code=0)


class OmeRequest(BaseModel):
    """The `request` of an OvenMediaEngine admission webhook (OME sends more)."""

    model_config = {"extra": "allow"}
    direction: HookText | None = Field(
        default=None, description="`incoming` (publish) or `outgoing` (play)."
    )
    status: HookText | None = Field(default=None, description="`opening` or `closing`.")
    url: HookUrl = Field(default="", description="The URL played, with `?token=…`.")


class OmeHook(BaseModel):
    """What OvenMediaEngine posts (only `request` is read; `client` and others are allowed)."""

    model_config = {"extra": "allow"}
    request: OmeRequest = Field(
        default_factory=OmeRequest, description="The request OvenMediaEngine admits or not."
    )


class OmeAnswer(BaseModel):
    allowed: bool = Field(description="True lets the player in.")
    lifetime: int | None = Field(
        default=None, description="Milliseconds the admission holds: until the token expires."
    )
    reason: str | None = Field(default=None, description="Why not, when refused (an error code).")


def _ome(answer: OmeAnswer) -> dict[str, Any]:
    """OME's answer, with the fields that do not apply left out (not null)."""
    return answer.model_dump(mode="json", exclude_none=True)


def _ome_refusal(error: ServiceError) -> dict[str, Any]:
    return _ome(OmeAnswer(allowed=False, reason=error.code))


@endpoint(summary="OvenMediaEngine admission webhook (outgoing streams)",
          tags=("viewing",), access=Access.public, body=OmeHook, response=OmeAnswer,
          refusal=_ome_refusal)  # fmt: skip
async def ome_admission(call: Call, body: OmeHook) -> dict[str, Any]:
    req = body.request
    if req.status == "closing":
        return _ome(OmeAnswer(allowed=True))  # a session ending needs no admission
    if req.direction != "outgoing":
        return _ome(OmeAnswer(allowed=False, reason="only playback is admitted here"))
    path, token = split_url(req.url)
    claims = await _check(call.request, token, stream=app_and_stream(path))
    lifetime = max(0, int((claims.expires_at - call.clock.now().timestamp()) * 1000))
    return _ome(OmeAnswer(allowed=True, lifetime=lifetime))


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


routes = [
    Route("/v1/tickets/{code}/sessions", start_session, methods=["POST"]),
    Route("/v1/viewing/heartbeat", heartbeat, methods=["POST"]),
    Route("/v1/viewing/sessions/{session_id}", end_session, methods=["DELETE"]),
    Route("/v1/viewing/authorize", authorize, methods=["GET"]),
    Route("/v1/viewing/hooks/srs", srs_on_play, methods=["POST"]),
    Route("/v1/viewing/hooks/ome", ome_admission, methods=["POST"]),
]
# The hot path: no access log line above debug for these.
QUIET_PATHS = frozenset({"/v1/viewing/authorize", "/v1/viewing/hooks/srs", "/v1/viewing/hooks/ome"})
