"""A paid viewer watches through a real nginx (auth_request) in front of an HLS stream
that ffmpeg made: with the token 200, without 401, SD token on HD 403, after a refund 403."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from config.settings import Settings
from tests.e2e.media import Nginx, make_hls, media_stack_available
from tests.factories import PLATFORM, bearer
from tests.harness import TEST_WEBHOOK_SECRET, Infrastructure, WorkerProcess
from tests.orders import scenarios as s
from tests.stripe_helpers import pay_with_card

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def media_stack() -> None:
    if not media_stack_available():
        pytest.skip("nginx or ffmpeg could not be installed on this machine")


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    return infra.settings(missing_country="allow")


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def eventually(check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return result


@pytest.fixture
def api(live_api: str, worker: WorkerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_api, timeout=30) as client:
        yield client


def test_watching_through_nginx(media_stack: None, api: httpx.Client, live_api: str,
                                localstripe: str, tmp_path: Path) -> None:  # fmt: skip
    venue = ok(api.post("/v1/venues", headers=PLATFORM, json={
        "name": "Media House", "country": "NL", "currency": "EUR", "timezone": "UTC"}), 201)  # fmt: skip
    staff = bearer(venue["api_key"]["key"])
    starts = datetime.now(UTC) + timedelta(minutes=10)  # doors are open (30 minutes before)
    event = ok(api.post("/v1/events", headers=staff, json={
        "title": "Live test pattern", "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(), "timezone": "UTC",
        "attendance_mode": "online", "playback": "http://cdn.example/live"}), 201)  # fmt: skip
    tiers = {
        quality: ok(api.post(f"/v1/events/{event['id']}/tiers", headers=staff, json={
            "name": quality.upper(), "price_amount": 1000, "vat_rate_bps": 2100,
            "access": {"quality": quality}}), 201)
        for quality in ("sd", "hd")
    }  # fmt: skip
    ok(api.put(f"/v1/events/{event['id']}/split-rule", headers=staff, json={
        "platform_fee_bps": 0, "shares": [{"party": {"type": "venue", "id": venue["venue"]["id"]},
                                           "bps": 10000}]}))  # fmt: skip
    ok(api.post(f"/v1/events/{event['id']}/publish", headers=staff))

    tokens, orders = {}, {}
    for quality, tier in tiers.items():
        order = ok(api.post(f"/v1/public/events/{event['id']}/orders", json={
            "email": f"{quality}@example.org", "items": [{"tier_id": tier["id"], "quantity": 1}]}), 201)  # fmt: skip
        pay_with_card(localstripe, order["payment"]["payment_intent_id"])
        body, headers = s.signed_webhook(s.succeeded(order), TEST_WEBHOOK_SECRET)
        ok(api.post("/v1/stripe/webhook", content=body, headers=headers))
        paid = eventually(
            lambda o=order: (
                (v := ok(api.get(f"/v1/orders/{o['id']}", headers=staff)))["tickets"] and v
            )
        )
        assert paid, "the worker did not issue the ticket"
        started = ok(api.post(f"/v1/tickets/{paid['tickets'][0]['code']}/sessions",
                              json={"device_id": "browser"}), 201)  # fmt: skip
        tokens[quality], orders[quality] = started["token"], order

    www = tmp_path / "www"
    make_hls(www, event["id"])
    nginx = Nginx(tmp_path, live_api)
    try:
        with httpx.Client(base_url=nginx.base_url, timeout=10) as cdn:
            hd = f"/live/{event['id']}/hd/index.m3u8"
            playlist = cdn.get(hd, headers={"Authorization": f"Bearer {tokens['hd']}"})
            assert playlist.status_code == 200 and "#EXTM3U" in playlist.text
            segment = next(line for line in playlist.text.splitlines() if line.endswith(".ts"))
            media = cdn.get(f"/live/{event['id']}/hd/{segment}?token={tokens['hd']}")
            assert media.status_code == 200 and len(media.content) > 1000
            assert cdn.get(hd).status_code == 401
            assert (
                cdn.get(hd, headers={"Authorization": f"Bearer {tokens['sd']}"}).status_code == 403
            )
            sd = f"/live/{event['id']}/sd/index.m3u8"
            assert (
                cdn.get(sd, headers={"Authorization": f"Bearer {tokens['sd']}"}).status_code == 200
            )

            # A refund cuts access at once.
            ok(api.post(f"/v1/orders/{orders['hd']['id']}/refunds", headers=staff, json={}), 202)
            hd_auth = {"Authorization": f"Bearer {tokens['hd']}"}
            assert cdn.get(hd, headers=hd_auth).status_code == 403
            # ... and stays cut once Stripe has made the refund.
            refunds_url = f"/v1/orders/{orders['hd']['id']}"
            assert eventually(
                lambda: (
                    ok(api.get(refunds_url, headers=staff))["refunds"][0]["status"] == "succeeded"
                )
            )
            assert cdn.get(hd, headers=hd_auth).status_code == 403
            assert (
                cdn.get(sd, headers={"Authorization": f"Bearer {tokens['sd']}"}).status_code == 200
            )
    finally:
        nginx.stop()
