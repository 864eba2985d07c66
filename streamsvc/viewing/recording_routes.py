"""Redeeming a recording access on a device: `POST /v1/recordings/access/{code}/sessions`.

The same session, device slots and token as a ticket's (routes.py), keyed by the
access id in Redis, with a token of kind `recording` that plays /vod/{recording id}/…
(access.py). A rental's first redemption opens its window (recordings/window.py);
its tokens never outlive the window, so playback stops when it ends. Heartbeat and
end are the ticket's routes: the token says which it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.routing import Route

from streamsvc.errors import Forbidden, NotFound
from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.kit.ids import new_id
from streamsvc.recordings import plays, window
from streamsvc.recordings.models import MEDIA_PREFIX
from streamsvc.recordings.window import MAX_DEVICES, ON_DEVICE_LIMIT, Playable
from streamsvc.viewing import service
from streamsvc.viewing.access import qualities_for
from streamsvc.viewing.routes import Playback, SessionCreate, SessionStarted, _ms, _renewal
from streamsvc.viewing.tokens import RECORDING, Claims


@dataclass(frozen=True)
class RecordingSession:
    playable: Playable
    qualities: tuple[str, ...]
    session_id: str
    token: str
    expires_at: datetime
    refresh_after: datetime

    @property
    def base(self) -> str:
        """The recording's media at its origin: /vod/{recording id} (recordings/models.py)."""
        return f"{self.playable.playback}/{MEDIA_PREFIX}/{self.playable.recording_id}"


async def start(
    call: Call, code: str, device_id: str, access_id: str | None = None
) -> RecordingSession:
    """Redeem the access of `code` on `device_id` (only `access_id`'s, when given: 404
    otherwise); 403 / 404 / 410 with a code when it may not play."""
    now = call.clock.now()
    playable = await call.in_unit_of_work(lambda uow: window.redeem(uow.session, code, now))
    if access_id is not None and playable.access_id != access_id:
        raise NotFound("No such recording access.")
    slot = await call.resources.viewing.start_session(
        playable.access_id, device_id, new_id("ses"), now_ms=_ms(now),
        max_devices=MAX_DEVICES, policy=ON_DEVICE_LIMIT,
    )  # fmt: skip
    if slot.outcome == "device_limit":
        raise Forbidden(
            "This recording already plays on as many devices as it allows.",
            code="device_limit", details={"max_devices": MAX_DEVICES},
        )  # fmt: skip
    if slot.outcome == "revoked":
        service.refuse_state(slot.session_id)
    await call.in_unit_of_work(lambda uow: plays.record_play(
        uow.session, playable.access_id, playable.recording_id, device_id, now))  # fmt: skip
    qualities = qualities_for(playable.quality)
    claims = Claims(slot.session_id, playable.access_id, playable.recording_id, qualities, (),
                    0, 0, kind=RECORDING)  # fmt: skip
    token, expires, refresh = _renewal(call, claims, playable.ends_at or service.NEVER)
    return RecordingSession(playable, qualities, slot.session_id, token, expires, refresh)


@endpoint(
    summary="Redeem a recording access on a device: a viewing session and a short-lived "
    "token (a rental's first redemption starts its window)",
    tags=("viewing",), access=Access.public, body=SessionCreate, response=SessionStarted,
    status=201, errors=(403, 404, 410),
)  # fmt: skip
async def start_session(call: Call, body: SessionCreate) -> SessionStarted:
    started = await start(call, call.path("code"), body.device_id)
    best = started.qualities[-1]
    return SessionStarted(
        session_id=started.session_id, token=started.token, expires_at=started.expires_at,
        refresh_after=started.refresh_after,
        playback=Playback(url=f"{started.base}/{best}/index.m3u8",
                          qualities=list(started.qualities)),
    )  # fmt: skip


routes = [Route("/v1/recordings/access/{code}/sessions", start_session, methods=["POST"])]
