"""A paid viewer watches through a real nginx (auth_request) in front of an HLS stream
that ffmpeg made: with the token 200, without 401, SD token on HD 403, after a refund 403.
nginx normalises the path and authorize judges that one: no traversal, encoding or case
trick reaches another event's or a higher quality's files, and no token reaches a log."""

from __future__ import annotations

import http.client
import shutil
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
            _tricks_do_not_pass(nginx, www, event["id"], tokens)

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


OTHER = "evt_0ther0event0000000000"


def _raw(nginx: Nginx, target: str, headers: dict[str, str] | None = None) -> int:
    """The status of a GET of `target` sent byte for byte (httpx would resolve the dots)."""
    connection = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=10)
    try:
        connection.request("GET", target, headers=headers or {})
        return connection.getresponse().status
    finally:
        connection.close()


def _tricks_do_not_pass(nginx: Nginx, www: Path, event_id: str, tokens: dict[str, str]) -> None:
    """Another event's UHD and this event's UHD lie on the origin, a path trick away."""
    shutil.copytree(www / "live" / event_id / "hd", www / "live" / OTHER / "uhd")
    shutil.copytree(www / "live" / event_id / "hd", www / "live" / event_id / "uhd")
    sd = {"Authorization": f"Bearer {tokens['sd']}"}
    e, playlist = event_id, "index.m3u8"
    refused = {
        f"/live/{e}/../{OTHER}/uhd/{playlist}": 403,
        f"/live/{e}/sd/../../{OTHER}/uhd/{playlist}": 403,
        f"/live/{e}/%2e%2e/{OTHER}/uhd/{playlist}": 403,
        f"/live/{e}/%2E%2E/{OTHER}/uhd/{playlist}": 403,
        f"/live/{e}/.%2e/{OTHER}/uhd/{playlist}": 403,
        f"/live/{e}/%2e%2e%2f{OTHER}/uhd/{playlist}": 403,
        f"/live/{e}/%252e%252e/{OTHER}/uhd/{playlist}": 403,  # nginx: a literal % (guard)
        f"/live/%65vt_{OTHER[4:]}/uhd/{playlist}": 403,
        f"/live/{e}/./uhd/{playlist}": 403,
        f"/live/{e}/sd/../uhd/{playlist}": 403,
        f"/live/{e}/%75hd/{playlist}": 403,
        f"/live/{e}/%55HD/{playlist}": 403,
        f"/live/{e}/UHD/{playlist}": 403,
        f"/live/{e}/sd;v=1/{playlist}": 403,  # guard
        f"/live/{e}/sd/{playlist}%0d%0aX-Original-URI:%20/live/{e}/sd/{playlist}": 403,  # guard
        f"/live/{e}/sd/more/{playlist}": 403,
        f"/live/{e}/sd/{playlist}%00": 400,  # nginx itself
        "/live/../../etc/passwd": 400,  # nginx itself: above the root
    }
    for target, status in refused.items():
        assert _raw(nginx, target, sd) == status, target
    assert (
        _raw(nginx, f"/live/{e}/%48D/{playlist}", {"Authorization": f"Bearer {tokens['hd']}"})
        == 403
    )
    # What the tricks land on when it is the token's own stream plays, as nginx serves it.
    allowed = (f"/live/{OTHER}/../{e}/sd/{playlist}", f"/live/{e}/%73d/{playlist}",
               f"/live//{e}/./sd/{playlist}")  # fmt: skip
    for target in allowed:
        assert _raw(nginx, target, sd) == 200, target
    # The token as a query parameter or a header; never in nginx's logs.
    assert _raw(nginx, f"/live/{e}/sd/{playlist}?token={tokens['sd']}") == 200
    assert _raw(nginx, f"/live/{e}/sd/{playlist}", {"X-Viewing-Token": tokens["sd"]}) == 200
    assert _raw(nginx, f"/live/{e}/hd/{playlist}?token={tokens['sd']}") == 403
    assert _raw(nginx, f"/live/{e}/sd/{playlist}?token=garbage") == 401
    logs = nginx.access_log + (nginx.directory / "error.log").read_text()
    assert f"/live/{e}/sd/{playlist}" in logs
    assert not any(token in logs for token in tokens.values())
