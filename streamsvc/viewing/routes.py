"""Viewing routes: redeem, heartbeat, end; authorize and the media-server adapters."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, StringConstraints
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streamsvc.db import UnitOfWork
from streamsvc.errors import Forbidden, ServiceError
from streamsvc.http.endpoint import in_unit_of_work, read_body
from streamsvc.http.openapi import operation
from streamsvc.kit.ids import new_id
from streamsvc.kit.validation import WriteModel
from streamsvc.viewing import service
from streamsvc.viewing.access import split_uri
from streamsvc.viewing.tokens import Claims

DeviceId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")
]


class SessionCreate(WriteModel):
    device_id: DeviceId


class Playback(BaseModel):
    url: str  # the best rendition's playlist; send the token with every request
    qualities: list[str]


class SessionStarted(BaseModel):
    session_id: str
    token: str
    expires_at: datetime
    refresh_after: datetime
    playback: Playback


class TokenRenewed(BaseModel):
    session_id: str
    token: str
    expires_at: datetime
    refresh_after: datetime


def _country(request: Request) -> str | None:
    value = request.headers.get(request.app.state.resources.settings.country_header, "").upper()
    # Cloudflare says XX (unknown) and T1 (Tor): neither is a country.
    return value if len(value) == 2 and value.isalpha() and value != "XX" else None


def _token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-viewing-token") or request.query_params.get("token")


def _renewal(
    request: Request, claims: Claims, closes_at: datetime
) -> tuple[str, datetime, datetime]:
    """A fresh token for this session: it ends with the window, and is renewed halfway."""
    settings = request.app.state.resources.settings
    now = request.app.state.resources.clock.now()
    expires = min(now + timedelta(seconds=settings.viewing_token_ttl_seconds), closes_at)
    fresh = Claims(claims.session_id, claims.ticket_id, claims.event_id, claims.qualities,
                   claims.extras, int(now.timestamp()), int(expires.timestamp()))  # fmt: skip
    token = request.app.state.resources.signer.sign(fresh)
    return token, expires, now + (expires - now) / 2


@operation(
    summary="Redeem a ticket on a device: a viewing session and a short-lived token",
    tags=("viewing",), body=SessionCreate, responses={201: SessionStarted},
    errors=(400, 403, 404, 413, 415, 422),
)  # fmt: skip
async def start_session(request: Request) -> Response:
    resources = request.app.state.resources
    body = await read_body(request, SessionCreate)
    code, now = request.path_params["code"], resources.clock.now()
    country = _country(request)

    def admit(uow: UnitOfWork) -> service.Admission:
        return service.admit(uow.session, code, now, country, resources.settings)

    admission = await in_unit_of_work(request, admit)
    slot = await resources.viewing.start_session(
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
    claims = Claims(slot.session_id, admission.ticket_id, admission.event_id,
                    admission.qualities, admission.extras, 0, 0)  # fmt: skip
    token, expires, refresh = _renewal(request, claims, admission.closes_at)
    best = admission.qualities[-1]
    answer = SessionStarted(
        session_id=slot.session_id, token=token, expires_at=expires, refresh_after=refresh,
        playback=Playback(url=f"{admission.playback}/{admission.event_id}/{best}/index.m3u8",
                          qualities=list(admission.qualities)),
    )  # fmt: skip
    return JSONResponse(answer.model_dump(mode="json"), status_code=201)


@operation(
    summary="Renew the viewing token (send the current one); 403 once revoked or replaced",
    tags=("viewing",), responses={200: TokenRenewed}, errors=(401, 403),
)  # fmt: skip
async def heartbeat(request: Request) -> Response:
    resources = request.app.state.resources
    now = resources.clock.now()
    claims = service.verify(resources.signer, _token(request), resources.settings, now)
    state = await resources.viewing.heartbeat(claims.ticket_id, claims.session_id, _ms(now))
    service.refuse_state(state)

    def check(uow: UnitOfWork) -> datetime:
        return service.still_admitted(uow.session, claims.ticket_id, now)

    closes_at = await in_unit_of_work(request, check)
    token, expires, refresh = _renewal(request, claims, closes_at)
    answer = TokenRenewed(session_id=claims.session_id, token=token, expires_at=expires,
                          refresh_after=refresh)  # fmt: skip
    return JSONResponse(answer.model_dump(mode="json"))


@operation(
    summary="End a viewing session (send its token) and free the device slot",
    tags=("viewing",), responses={204: None}, errors=(401, 404),
)  # fmt: skip
async def end_session(request: Request) -> Response:
    resources = request.app.state.resources
    claims = service.verify(resources.signer, _token(request), resources.settings,
                            resources.clock.now())  # fmt: skip
    if claims.session_id != request.path_params["session_id"]:
        raise ServiceError("No such session for this token.", code="not_found", status=404)
    await resources.viewing.end_session(claims.ticket_id, claims.session_id)
    return Response(status_code=204)


async def _check(request: Request, token: str | None, path: str | None) -> Claims:
    resources = request.app.state.resources
    return await service.authorize(resources.viewing, resources.signer, resources.settings,
                                   token=token, path=path, now=resources.clock.now())  # fmt: skip


@operation(
    summary="Authorize a playlist or segment request (nginx auth_request): 204, 401 or 403",
    tags=("viewing",), responses={204: None}, errors=(401, 403),
)  # fmt: skip
async def authorize(request: Request) -> Response:
    original = request.headers.get("x-original-uri")
    path, uri_token = split_uri(original) if original else (None, None)
    try:
        await _check(request, _token(request) or uri_token, path)
    except ServiceError as exc:
        return JSONResponse(exc.body(), status_code=service.status_of(exc))
    return Response(status_code=204)


class SrsAnswer(BaseModel):
    code: int  # 0 allows; anything else refuses


class SrsHook(BaseModel):
    """What SRS posts (only these fields are read; others are allowed)."""

    model_config = {"extra": "allow"}
    app: str = ""
    stream: str = ""
    param: str = ""


class OmeHook(BaseModel):
    """What OvenMediaEngine posts (only `request` is read; others are allowed)."""

    model_config = {"extra": "allow"}
    request: dict[str, Any] = {}


@operation(summary="SRS on_play hook: app = event id, stream = quality, ?token= in param",
           tags=("viewing",), body=SrsHook, responses={200: SrsAnswer},
           errors=(400, 413))  # fmt: skip
async def srs_on_play(request: Request) -> Response:
    hook = await _json(request)
    path = f"/{hook.get('app', '')}/{hook.get('stream', '')}"
    _, token = split_uri(f"/x{hook.get('param', '') or ''}")
    try:
        await _check(request, token, path)
    except ServiceError as exc:
        return JSONResponse({"code": service.status_of(exc)})
    return JSONResponse({"code": 0})


class OmeAnswer(BaseModel):
    allowed: bool
    lifetime: int | None = None  # ms the admission holds: until the token expires
    reason: str | None = None


@operation(summary="OvenMediaEngine admission webhook (outgoing streams)",
           tags=("viewing",), body=OmeHook, responses={200: OmeAnswer},
           errors=(400, 413))  # fmt: skip
async def ome_admission(request: Request) -> Response:
    hook = await _json(request)
    req = hook.get("request") if isinstance(hook.get("request"), dict) else {}
    assert isinstance(req, dict)
    if req.get("status") == "closing":
        return JSONResponse({"allowed": True})  # a session ending needs no admission
    if req.get("direction") != "outgoing":
        return JSONResponse({"allowed": False, "reason": "only playback is admitted here"})
    path, token = split_uri(str(req.get("url", "")))
    try:
        claims = await _check(request, token, path)
    except ServiceError as exc:
        return JSONResponse({"allowed": False, "reason": exc.code})
    now = request.app.state.resources.clock.now().timestamp()
    lifetime = max(0, int((claims.expires_at - now) * 1000))
    return JSONResponse({"allowed": True, "lifetime": lifetime})


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def _json(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body())
    except ValueError as exc:
        raise ServiceError("The hook body is not JSON.", code="malformed_json", status=400) from exc
    if not isinstance(data, dict):
        raise ServiceError(
            "The hook body must be a JSON object.", code="malformed_json", status=400
        )
    return data


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
