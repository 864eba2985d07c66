from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from config.settings import Settings
from streamsvc.viewing.store import ViewingStore
from streamsvc.viewing.tokens import Claims, signer_from_settings
from tests.orders import scenarios as s
from tests.viewing.conftest import Show


def _doors_open(show: Show) -> None:
    starts = datetime.fromisoformat(show.event["starts_at"])
    show.clock.at = starts - timedelta(minutes=30)


def _session(show: Show, tier: str = "hd", device: str = "tv") -> tuple[str, dict[str, Any]]:
    _, [code] = show.paid_tickets(tier)
    _doors_open(show)
    response = show.redeem(code, device)
    assert response.status_code == 201, response.text
    return code, response.json()


def test_redeem_gives_a_token_and_playback(show: Show, settings: Settings) -> None:
    _, started = _session(show)
    assert started["session_id"].startswith("ses_")
    assert started["playback"] == {
        "url": f"https://origin.example.org/live/{show.event['id']}/hd/index.m3u8",
        "qualities": ["sd", "hd"],
    }
    expires = datetime.fromisoformat(started["expires_at"])
    assert expires - show.clock.now() == timedelta(seconds=settings.viewing_token_ttl_seconds)
    assert show.authorize(started["token"]).status_code == 204
    assert show.authorize(started["token"], quality="sd").status_code == 204


def test_windows_are_enforced(show: Show) -> None:
    _, [code] = show.paid_tickets("sd")  # sd tier: rewatch 0 hours, live only
    starts = datetime.fromisoformat(show.event["starts_at"])
    show.clock.at = starts - timedelta(minutes=31)
    early = show.redeem(code, "tv")
    assert early.status_code == 403 and early.json()["error"]["code"] == "outside_window"
    show.clock.at = starts - timedelta(minutes=30)
    assert show.redeem(code, "tv").status_code == 201
    show.clock.at = starts + timedelta(hours=3)  # ends_at, no rewatch
    late = show.redeem(code, "tv")
    assert late.status_code == 403 and late.json()["error"]["code"] == "outside_window"


def test_countries(show: Show) -> None:
    _, [code] = show.paid_tickets("hd")
    _doors_open(show)
    for country in ("DE", None, "XX"):
        refused = show.redeem(code, "tv", country=country)
        assert refused.status_code == 403, country
        assert refused.json()["error"]["code"] == "country_not_allowed"
    assert show.redeem(code, "tv", country="be").status_code == 201


def test_bad_tokens_are_401(show: Show, settings: Settings) -> None:
    _, started = _session(show)
    token = started["token"]
    head, kid, payload, sig = token.split(".")
    for bad in (None, "garbage", f"{head}.{kid}.{payload}.{sig[:-2]}AA",
                f"{head}.other.{payload}.{sig}", f"v9.{kid}.{payload}.{sig}", token + "x"):  # fmt: skip
        response = show.authorize(bad)
        assert response.status_code == 401, bad
    show.clock.advance(
        seconds=settings.viewing_token_ttl_seconds + settings.viewing_clock_skew_seconds + 1
    )
    expired = show.authorize(token)
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]


def test_leeway_and_key_rotation(show: Show, settings: Settings) -> None:
    _, started = _session(show)
    show.clock.advance(
        seconds=settings.viewing_token_ttl_seconds + settings.viewing_clock_skew_seconds - 1
    )
    assert show.authorize(started["token"]).status_code == 204  # within the leeway
    rotated = settings.model_copy(update={"token_keys": {**settings.token_keys, "new": settings.token_keys["dev"]},
                                          "token_signing_key_id": "new"})  # fmt: skip
    old_signer, new_signer = signer_from_settings(settings), signer_from_settings(rotated)
    claims = old_signer.verify(started["token"], show.clock.now().timestamp(), 60)
    assert new_signer.verify(old_signer.sign(claims), show.clock.now().timestamp(), 60) == claims
    assert ".new." in new_signer.sign(claims)


def test_the_uri_must_match_event_and_quality(show: Show) -> None:
    _, sd = _session(show, "sd", "phone")
    assert show.authorize(sd["token"], quality="sd").status_code == 204
    hd = show.authorize(sd["token"], quality="hd")
    assert hd.status_code == 403 and hd.json()["error"]["code"] == "quality_not_in_tier"
    other = show.authorize(sd["token"], quality="sd", event_id="evt_someotherevent00000")
    assert other.status_code == 403 and other.json()["error"]["code"] == "wrong_event"
    # The token may also come in the original URI's query string, as nginx passes it.
    uri = f"/live/{show.event['id']}/sd/seg_1.ts?token={sd['token']}"
    assert (
        show.client.get("/v1/viewing/authorize", headers={"X-Original-URI": uri}).status_code == 204
    )


def test_refuse_policy_and_same_device(show: Show) -> None:
    _, [code] = show.paid_tickets("hd")  # 2 devices, refuse
    _doors_open(show)
    first = show.redeem(code, "tv").json()
    assert show.redeem(code, "tv").json()["session_id"] == first["session_id"]  # same device
    assert show.redeem(code, "phone").status_code == 201
    third = show.redeem(code, "laptop")
    assert third.status_code == 403 and third.json()["error"]["code"] == "device_limit"
    # Ending a session frees its slot.
    end = show.client.delete(f"/v1/viewing/sessions/{first['session_id']}",
                             headers={"Authorization": f"Bearer {first['token']}"})  # fmt: skip
    assert end.status_code == 204
    assert show.redeem(code, "laptop").status_code == 201
    assert show.authorize(first["token"]).status_code == 401


def test_drop_oldest_policy(show: Show) -> None:
    _, [code] = show.paid_tickets("swap")  # 1 device, newest wins
    _doors_open(show)
    old = show.redeem(code, "tv").json()
    show.clock.advance(seconds=5)
    new = show.redeem(code, "phone").json()
    assert show.authorize(new["token"]).status_code == 204
    replaced = show.authorize(old["token"])
    assert replaced.status_code == 403 and replaced.json()["error"]["code"] == "session_replaced"
    beat = show.heartbeat(old["token"])
    assert beat.status_code == 403 and beat.json()["error"]["code"] == "session_replaced"


def test_two_devices_racing_for_the_last_slot(
    settings: Settings, redis_client: redis.Redis
) -> None:
    async def race() -> list[str]:
        client = aioredis.Redis.from_url(settings.require("redis_url"))
        store = ViewingStore(client, settings.viewing_session_idle_seconds)
        slots = await asyncio.gather(*(
            store.start_session("tkt_race", f"device-{i}", f"ses_{i}", now_ms=1_000,
                                max_devices=1, policy="refuse")
            for i in range(20)
        ))  # fmt: skip
        await client.aclose()
        return [slot.outcome for slot in slots]

    outcomes = asyncio.run(race())
    assert outcomes.count("ok") == 1 and outcomes.count("device_limit") == 19


def test_heartbeat_renews_and_a_three_hour_opera_keeps_playing(
    show: Show, settings: Settings
) -> None:
    _, started = _session(show)
    token = started["token"]
    for _ in range(int(3 * 3600 / (settings.viewing_token_ttl_seconds / 2)) + 2):
        show.clock.advance(seconds=settings.viewing_token_ttl_seconds / 2)
        beat = show.heartbeat(token)
        assert beat.status_code == 200, beat.text
        token = beat.json()["token"]
        assert show.authorize(token).status_code == 204


def test_refund_cuts_access_at_once(show: Show) -> None:
    order, [code] = show.paid_tickets("hd")
    _doors_open(show)
    started = show.redeem(code, "tv").json()
    assert show.authorize(started["token"]).status_code == 204
    s.deliver(show.client, s.charge_refunded(order, [("re_all", order["total_amount"])]))
    show.drain()  # the refund webhook is processed
    refused = show.authorize(started["token"])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "revoked"
    assert show.heartbeat(started["token"]).status_code == 403
    assert show.redeem(code, "phone").status_code == 403


def test_dispute_suspends_and_a_won_dispute_restores(show: Show) -> None:
    order, [code] = show.paid_tickets("hd")
    _doors_open(show)
    started = show.redeem(code, "tv").json()
    s.deliver(show.client, s.dispute(order, "dp_v", "created", "needs_response"))
    show.drain()
    assert show.authorize(started["token"]).status_code == 403
    s.deliver(show.client, s.dispute(order, "dp_v", "closed", "won"))
    show.drain()
    assert show.authorize(started["token"]).status_code == 204


def test_admin_revoke(show: Show) -> None:
    order, [code] = show.paid_tickets("hd")
    _doors_open(show)
    started = show.redeem(code, "tv").json()
    view = show.client.get(f"/v1/orders/{order['id']}", headers=show.venue.headers).json()
    ticket_id = _ticket_id(show, code)
    response = show.client.post(f"/v1/tickets/{ticket_id}/revoke", headers=show.venue.headers)
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    assert show.authorize(started["token"]).status_code == 403
    assert view["status"] == "paid"


def _ticket_id(show: Show, code: str) -> str:
    from sqlmodel import select

    from streamsvc.orders.models import Ticket

    with show.database.unit_of_work() as uow:
        return uow.session.exec(select(Ticket.id).where(Ticket.code == code)).one()


def test_losing_redis_loses_no_paid_viewer_and_lets_no_revoked_one_back(
    show: Show, redis_client: redis.Redis
) -> None:
    paid_order, [paid] = show.paid_tickets("hd")
    refunded_order, [refunded] = show.paid_tickets("hd")
    _doors_open(show)
    viewer = show.redeem(paid, "tv").json()
    s.deliver(
        show.client, s.charge_refunded(refunded_order, [("re_x", refunded_order["total_amount"])])
    )
    show.drain()
    redis_client.flushdb()  # Redis is lost
    lost = show.authorize(viewer["token"])
    assert lost.status_code == 401 and lost.json()["error"]["code"] == "session_unknown"
    again = show.redeem(paid, "tv")
    assert again.status_code == 201
    assert show.authorize(again.json()["token"]).status_code == 204
    assert show.redeem(refunded, "tv").status_code == 403
    assert paid_order["id"] != refunded_order["id"]


def test_media_server_hooks(show: Show) -> None:
    _, started = _session(show)
    event_id, token = show.event["id"], started["token"]
    srs = show.client.post("/v1/viewing/hooks/srs", json={
        "action": "on_play", "app": event_id, "stream": "hd", "param": f"?token={token}"})  # fmt: skip
    assert srs.json() == {"code": 0}
    denied = show.client.post(
        "/v1/viewing/hooks/srs", json={"app": event_id, "stream": "hd", "param": ""}
    )
    assert denied.json()["code"] != 0
    ome = show.client.post("/v1/viewing/hooks/ome", json={"request": {
        "direction": "outgoing", "status": "opening",
        "url": f"ws://edge.example/{event_id}/hd?token={token}"}})  # fmt: skip
    assert ome.json()["allowed"] is True and ome.json()["lifetime"] > 0
    bad = show.client.post("/v1/viewing/hooks/ome", json={"request": {
        "direction": "outgoing", "status": "opening", "url": f"ws://edge.example/{event_id}/hd"}})  # fmt: skip
    assert bad.json() == {"allowed": False, "reason": "missing_token"}


def test_claims_hold_the_tier_access(show: Show, settings: Settings) -> None:
    _, started = _session(show)
    claims: Claims = signer_from_settings(settings).verify(
        started["token"], show.clock.now().timestamp(), 0
    )
    assert claims.qualities == ("sd", "hd")
    assert claims.event_id == show.event["id"]
    assert claims.session_id == started["session_id"]


@pytest.mark.parametrize("device", ["", "x" * 129, "has space"])
def test_device_ids_are_bounded(show: Show, device: str) -> None:
    _, [code] = show.paid_tickets("hd")
    _doors_open(show)
    response = show.redeem(code, device)
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {"device_id"}
