"""A buyer buys, pays at localstripe, gets tickets by mail; an admin refunds; a cancelled
event refunds everyone once — through the served API, localstripe's own signed
webhook, a real Celery worker and a real SMTP server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest

from config.settings import Settings
from tests.factories import PLATFORM, bearer
from tests.harness import TEST_WEBHOOK_SECRET, Infrastructure, WorkerProcess
from tests.mailbox import Mailbox
from tests.stripe_helpers import pay_with_card, register_webhook, unregister_webhook

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.stripe, pytest.mark.timeout(180)]


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    # Many buyers share 127.0.0.1 here.
    return infra.settings(order_rate_per_ip=100_000, order_rate_per_email=100_000)


@pytest.fixture
def api(live_api: str, localstripe: str, worker: WorkerProcess) -> Iterator[httpx.Client]:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    url = f"{live_api}/v1/stripe/webhook"
    register_webhook(localstripe, url, TEST_WEBHOOK_SECRET, name=name)
    with httpx.Client(base_url=live_api, timeout=30) as client:
        yield client
    unregister_webhook(localstripe, url, name=name)


def eventually(check: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _shop(api: httpx.Client, capacity: int | None = 100) -> tuple[dict[str, str], str, str]:
    venue = ok(api.post("/v1/venues", headers=PLATFORM, json={
        "name": "Opera Zuid", "country": "NL", "currency": "EUR", "timezone": "Europe/Amsterdam"}), 201)  # fmt: skip
    h = bearer(venue["api_key"]["key"])
    starts = datetime.now(UTC) + timedelta(days=7)
    event = ok(api.post("/v1/events", headers=h, json={
        "title": "Don Giovanni", "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=3)).isoformat(), "timezone": "Europe/Amsterdam",
        "attendance_mode": "online", "playback": "https://origin.example.org/live"}), 201)  # fmt: skip
    tier = ok(api.post(f"/v1/events/{event['id']}/tiers", headers=h, json={
        "name": "Stream HD", "price_amount": 1500, "capacity": capacity, "vat_rate_bps": 2100,
        "access": {"quality": "hd"}}), 201)  # fmt: skip
    ok(api.put(f"/v1/events/{event['id']}/split-rule", headers=h, json={
        "platform_fee_bps": 500, "shares": [{"party": {"type": "venue", "id": venue["venue"]["id"]},
                                             "bps": 10000}]}))  # fmt: skip
    ok(api.post(f"/v1/events/{event['id']}/publish", headers=h))
    return h, event["id"], tier["id"]


def _buy_and_pay(api: httpx.Client, localstripe: str, event_id: str, tier_id: str, email: str,
                 language: str = "nl-NL,nl;q=0.9") -> dict[str, Any]:  # fmt: skip
    order = ok(api.post(f"/v1/public/events/{event_id}/orders",
                        headers={"Accept-Language": language},
                        json={"email": email, "items": [{"tier_id": tier_id, "quantity": 2}]}), 201)  # fmt: skip
    pay_with_card(localstripe, order["payment"]["payment_intent_id"])
    result: dict[str, Any] = order
    return result


def test_buy_pay_mail_refund(api: httpx.Client, localstripe: str, mailbox: Mailbox) -> None:
    staff, event_id, tier_id = _shop(api)
    email = f"{uuid.uuid4().hex[:8]}@example.org"
    order = _buy_and_pay(api, localstripe, event_id, tier_id, email)
    url = f"/v1/public/orders/{order['id']}"
    params = {"order_token": order["order_token"]}
    paid = eventually(lambda: (o := ok(api.get(url, params=params)))["status"] == "paid" and o)
    assert paid, ok(api.get(url, params=params))
    codes = [t["code"] for t in paid["tickets"]]
    assert len(codes) == 2 and all(t["status"] == "valid" for t in paid["tickets"])

    mail = eventually(lambda: next((m for m in mailbox.received if email in m.rcpt_tos), None))
    assert mail is not None, "no ticket mail arrived"
    body = mail.message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert all(code in text for code in codes)
    assert "Don Giovanni" in mail.message["Subject"] or "Don Giovanni" in text
    assert any(word in text.lower() for word in ("kaart", "bestelling"))  # Dutch

    refund = ok(api.post(f"/v1/orders/{order['id']}/refunds", headers=staff, json={}), 202)
    assert refund["status"] == "requested"
    done = eventually(
        lambda: (
            ok(api.get(f"/v1/orders/{order['id']}", headers=staff))["refunds"][0]["status"]
            == "succeeded"
        )
    )
    assert done
    staff_view = ok(api.get(f"/v1/orders/{order['id']}", headers=staff))
    assert staff_view["status"] == "refunded"
    assert {t["status"] for t in staff_view["tickets"]} == {"revoked"}


def test_a_cancelled_event_refunds_everyone_once(api: httpx.Client, localstripe: str) -> None:
    staff, event_id, tier_id = _shop(api)
    orders = [
        _buy_and_pay(api, localstripe, event_id, tier_id, f"fan{i}@example.org") for i in range(3)
    ]

    def status_of(order_id: str) -> str:
        return str(ok(api.get(f"/v1/orders/{order_id}", headers=staff))["status"])

    def first_refund_status(order_id: str) -> str:
        return str(ok(api.get(f"/v1/orders/{order_id}", headers=staff))["refunds"][0]["status"])

    for order in orders:
        assert eventually(partial(lambda o: status_of(o) == "paid", order["id"]))
    job = ok(api.post(f"/v1/events/{event_id}/cancel", headers=staff), 202)
    finished = eventually(
        lambda: (
            (j := ok(api.get(f"/v1/jobs/{job['id']}", headers=staff)))["status"] == "succeeded"
            and j
        )
    )
    assert finished and finished["progress"] == {"done": 3, "total": 3}
    for order in orders:
        view = ok(api.get(f"/v1/orders/{order['id']}", headers=staff))
        assert view["status"] == "cancelled"
        assert [(r["origin"], r["amount"]) for r in view["refunds"]] == [("event_cancelled", 3000)]
        assert eventually(partial(lambda o: first_refund_status(o) == "succeeded", order["id"]))


def test_a_reconciliation_job_posts_and_splits_through_the_worker(
    api: httpx.Client, localstripe: str
) -> None:
    staff, event_id, tier_id = _shop(api)
    orders = [
        _buy_and_pay(api, localstripe, event_id, tier_id, f"fan{i}@example.org") for i in range(3)
    ]
    for order in orders:
        assert eventually(
            partial(lambda o: ok(api.get(f"/v1/orders/{o}", headers=staff))["status"] == "paid",
                    order["id"])
        )  # fmt: skip
    job = ok(api.post("/v1/finance/reconciliations", json={"event_id": event_id}, headers=staff),
             202)  # fmt: skip
    finished = eventually(
        lambda: (
            (j := ok(api.get(f"/v1/jobs/{job['id']}", headers=staff)))["status"] == "succeeded"
            and j
        )
    )
    assert finished, ok(api.get(f"/v1/jobs/{job['id']}", headers=staff))
    assert finished["progress"] == {"done": 3, "total": 3}  # one charge asked per order
    assert finished["result"]["posted"] == 3 and finished["result"]["findings"] == 0
    statement = ok(api.get(f"/v1/finance/events/{event_id}/statement", headers=staff))
    assert statement["gross"] == 9000 and statement["undistributed"] == 0
    [venue_share] = statement["parties"]
    assert venue_share["amount"] == statement["distributable"] > 0
    ledger = ok(api.get("/v1/finance/ledger", params={"account": "stripe_balance"}, headers=staff))
    assert sum(line["amount"] for line in ledger["data"]) == 9000  # localstripe charges no fee
