"""The media-server hooks read validated bodies and answer in each server's protocol:
SRS `{"code": 0}` allows, OvenMediaEngine `{"allowed": ...}`; never an error shape for
a body they could parse."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.viewing.conftest import Show

SRS = "/v1/viewing/hooks/srs"
OME = "/v1/viewing/hooks/ome"


def _token(show: Show) -> str:
    _, [code] = show.paid_tickets("hd")
    show.clock.at = datetime.fromisoformat(show.event["starts_at"]) - timedelta(minutes=30)
    started = show.redeem(code, "tv")
    assert started.status_code == 201, started.text
    token: str = started.json()["token"]
    return token


def _srs(show: Show, token: str, **over: Any) -> dict[str, Any]:
    """An on_play body as SRS 5 sends it: more fields than the hook reads."""
    return {"server_id": "vid-0xk989d", "service_id": "lx2n1f8d", "action": "on_play",
            "client_id": "3z1n8k6p", "ip": "192.168.1.10", "vhost": "__defaultVhost__",
            "app": show.event["id"], "tcUrl": "rtmp://127.0.0.1:1935/live", "stream": "hd",
            "param": f"?token={token}", "pageUrl": "", "stream_url": "/live/hd",
            "stream_id": "vid-124q9y3", **over}  # fmt: skip


def test_srs_allows_a_full_on_play_body(show: Show) -> None:
    token = _token(show)
    answer = show.client.post(SRS, json=_srs(show, token))
    assert answer.status_code == 200 and answer.json() == {"code": 0}
    sd_only = show.client.post(SRS, json=_srs(show, token, stream="uhd"))
    assert sd_only.status_code == 200 and sd_only.json() == {"code": 403}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, 401),  # every field missing: no token, refused as before
        ({"app": "evt_x", "stream": "hd", "param": None}, 401),
        ({"app": 5, "stream": "hd", "param": "?token=x"}, 422),  # not a string
        ({"app": "evt_x", "stream": "hd", "param": "?token=" + "x" * 5000}, 422),
        ({"app": "evt\x00", "stream": "hd", "param": ""}, 422),
    ],
)
def test_srs_refuses_a_body_it_cannot_read_in_its_own_protocol(
    show: Show, body: dict[str, Any], code: int
) -> None:
    answer = show.client.post(SRS, json=body)
    assert answer.status_code == 200
    assert answer.json() == {"code": code}


@pytest.mark.parametrize("hook", [SRS, OME])
def test_a_body_that_is_not_a_json_object_is_400(show: Show, hook: str) -> None:
    for content in (b"{nope", b"[]"):
        answer = show.client.post(hook, content=content,
                                  headers={"content-type": "application/json"})  # fmt: skip
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "malformed_json"


def _ome(url: str, direction: str = "outgoing", status: str = "opening") -> dict[str, Any]:
    """An admission request as OvenMediaEngine sends it."""
    return {"client": {"address": "211.233.58.86", "port": 29291,
                       "user_agent": "Mozilla/5.0"},
            "request": {"direction": direction, "protocol": "llhls", "status": status,
                        "url": url, "time": "2021-05-12T13:45:00.000Z"}}  # fmt: skip


def test_ome_admits_playback_for_as_long_as_the_token_holds(show: Show) -> None:
    token = _token(show)
    url = f"wss://edge.example/{show.event['id']}/hd?token={token}"
    answer = show.client.post(OME, json=_ome(url)).json()
    assert answer["allowed"] is True and answer["lifetime"] > 0 and "reason" not in answer
    assert show.client.post(OME, json=_ome(url, status="closing")).json() == {"allowed": True}
    assert show.client.post(OME, json=_ome(url, direction="incoming")).json() == {
        "allowed": False, "reason": "only playback is admitted here"}  # fmt: skip
    no_token = show.client.post(OME, json=_ome(f"wss://edge.example/{show.event['id']}/hd"))
    assert no_token.json() == {"allowed": False, "reason": "missing_token"}


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ({}, {"allowed": False, "reason": "only playback is admitted here"}),
        ({"request": "opening"}, {"allowed": False, "reason": "validation_error"}),
        ({"request": {"direction": "outgoing", "url": 7}},
         {"allowed": False, "reason": "validation_error"}),
    ],
)  # fmt: skip
def test_ome_refuses_a_body_it_cannot_read_in_its_own_protocol(
    show: Show, body: dict[str, Any], answer: dict[str, Any]
) -> None:
    response = show.client.post(OME, json=body)
    assert response.status_code == 200
    assert response.json() == answer


def test_heartbeat_and_end_need_the_viewing_token_first(show: Show) -> None:
    token = _token(show)
    missing = show.client.post("/v1/viewing/heartbeat")
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_token"
    bad = show.client.delete("/v1/viewing/sessions/ses_x", headers={"X-Viewing-Token": "bad"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_token"
    other = show.client.delete("/v1/viewing/sessions/ses_x", headers={"X-Viewing-Token": token})
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    assert show.heartbeat(token).status_code == 200
