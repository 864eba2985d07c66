from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import cancellation
from streamsvc.orders.fulfilment import reconcile_pending
from streamsvc.orders.refunds import submit_refund
from streamsvc.payments.factory import gateway_from_settings
from streamsvc.payments.gateway import PaymentGateway
from tests.conftest import RecordingQueue
from tests.factories import buy, ok
from tests.orders import scenarios as s
from tests.stripe_helpers import get_object, pay_with_card


@pytest.fixture
def gateway(settings: Settings) -> Any:
    gateway = gateway_from_settings(settings)
    yield gateway
    getattr(gateway, "close", lambda: None)()


def _paid_order(client: TestClient, database: Database, clock: FixedClock, localstripe: str,
                event_id: str, tier_id: str, quantity: int = 2) -> dict[str, Any]:  # fmt: skip
    """Bought through the API, paid at localstripe with a card, confirmed by webhook."""
    order = buy(client, event_id, tier_id, quantity=quantity)
    pay_with_card(localstripe, order["payment"]["payment_intent_id"])
    s.deliver(client, s.succeeded(order))
    s.drain(database, clock)
    result: dict[str, Any] = order
    return result


def test_full_refund_revokes_tickets(
    client: TestClient, clock: FixedClock, database: Database, gateway: PaymentGateway,
    localstripe: str, shop: Any, queue: RecordingQueue,
) -> None:  # fmt: skip
    venue, event, tier_id = shop
    order = _paid_order(client, database, clock, localstripe, event["id"], tier_id)
    url = f"/v1/orders/{order['id']}/refunds"
    response = client.post(url, json={"reason": "changed plans"}, headers=venue.headers)
    assert response.status_code == 202, response.text
    refund = response.json()
    assert (refund["amount"], refund["status"], refund["origin"]) == (4000, "requested", "staff")
    assert ("payments.submit_refund", (refund["id"],)) in queue.sent
    # Access goes at once, before Stripe has even been asked.
    staff = ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))
    assert staff["status"] == "refunded"
    assert {t["status"] for t in staff["tickets"]} == {"revoked"}
    stored = submit_refund(database, gateway, refund["id"], clock.now())
    assert stored.status == "succeeded" and stored.stripe_refund_id
    again = submit_refund(database, gateway, refund["id"], clock.now())
    assert again.stripe_refund_id == stored.stripe_refund_id  # sent once
    charge = get_object(localstripe, f"/v1/payment_intents/{order['payment']['payment_intent_id']}")
    assert charge["status"] == "succeeded"
    more = client.post(url, json={}, headers=venue.headers)
    assert more.status_code == 409
    assert more.json()["error"]["code"] == "not_refundable"


def test_partial_refund_keeps_tickets_and_is_bounded(
    client: TestClient, clock: FixedClock, database: Database, gateway: PaymentGateway,
    localstripe: str, shop: Any,
) -> None:  # fmt: skip
    venue, event, tier_id = shop
    order = _paid_order(client, database, clock, localstripe, event["id"], tier_id)
    url = f"/v1/orders/{order['id']}/refunds"
    headers = {**venue.headers, "Idempotency-Key": "goodwill-1"}
    first = client.post(url, json={"amount": 1500, "reason": "late start"}, headers=headers)
    replay = client.post(url, json={"amount": 1500, "reason": "late start"}, headers=headers)
    assert first.status_code == replay.status_code == 202
    assert first.json() == replay.json()
    assert client.post(url, json={"amount": 999}, headers=headers).status_code == 409
    too_much = client.post(url, json={"amount": 2501}, headers=venue.headers)
    assert too_much.status_code == 422
    assert too_much.json()["error"]["fields"] == {"amount": "at most 2500"}
    submit_refund(database, gateway, first.json()["id"], clock.now())
    staff = ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))
    assert (staff["status"], staff["refunded_amount"]) == ("partially_refunded", 1500)
    assert {t["status"] for t in staff["tickets"]} == {"valid"}


def test_cancelling_an_event_refunds_everyone_once(
    client: TestClient, clock: FixedClock, database: Database, gateway: PaymentGateway,
    localstripe: str, shop: Any, queue: RecordingQueue, followups: RecordingQueue,
) -> None:  # fmt: skip
    venue, event, tier_id = shop
    paid = [
        _paid_order(client, database, clock, localstripe, event["id"], tier_id, q) for q in (1, 3)
    ]
    pending = buy(client, event["id"], tier_id, quantity=2)
    response = client.post(f"/v1/events/{event['id']}/cancel", headers=venue.headers)
    assert response.status_code == 202
    job = response.json()
    assert (job["status"], job["kind"]) == ("queued", "event_cancellation")
    assert ("orders.run_cancellation", (job["id"],)) in queue.sent
    assert (
        ok(client.get(f"/v1/events/{event['id']}", headers=venue.headers))["status"] == "cancelled"
    )
    # The job (tests/orders/test_cancellation.py runs it batch by batch) revokes the
    # tickets, stops the pending order and records the refunds; a worker sends them.
    followups.sent.clear()
    cancellation.run(database, job["id"], clock.now())
    cancellation.run(database, job["id"], clock.now())  # a re-run
    submissions = [args[0] for name, args in followups.sent if name == "payments.submit_refund"]
    assert len(submissions) == 2
    for refund_id in submissions:
        submit_refund(database, gateway, refund_id, clock.now())
    done = ok(client.get(f"/v1/jobs/{job['id']}", headers=venue.headers))
    assert done["status"] == "succeeded"
    assert done["progress"] == {"done": 3, "total": 3}
    for order in paid:
        staff = ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))
        assert staff["status"] == "cancelled"
        assert {t["status"] for t in staff["tickets"]} == {"revoked"}
        assert [(r["origin"], r["status"], r["amount"]) for r in staff["refunds"]] == [
            ("event_cancelled", "succeeded", staff["paid_amount"])
        ]
    assert (
        ok(client.get(f"/v1/orders/{pending['id']}", headers=venue.headers))["status"]
        == "cancelled"
    )
    # Nothing is for sale, and cancelling again does not start a second refund.
    again = client.post(f"/v1/events/{event['id']}/cancel", headers=venue.headers)
    assert again.status_code == 202 and again.json()["id"] != job["id"]
    followups.sent.clear()
    cancellation.run(database, again.json()["id"], clock.now())
    assert "payments.submit_refund" not in followups.names()
    for order in paid:
        assert (
            len(ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))["refunds"]) == 1
        )


def test_a_lost_webhook_loses_no_sale(
    client: TestClient, clock: FixedClock, database: Database, gateway: PaymentGateway,
    localstripe: str, shop: Any, followups: RecordingQueue,
) -> None:  # fmt: skip
    venue, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=2)
    pay_with_card(localstripe, order["payment"]["payment_intent_id"])  # the webhook never comes
    reconcile_pending(database, gateway, order["id"], clock.now())
    staff = ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))
    assert staff["status"] == "paid" and len(staff["tickets"]) == 2
    assert followups.names() == ["orders.send_tickets"]


def test_unpaid_orders_expire_cancel_their_intent_and_free_the_seats(
    client: TestClient, clock: FixedClock, database: Database, gateway: PaymentGateway,
    localstripe: str, shop: Any, settings: Settings,
) -> None:  # fmt: skip
    from streamsvc.orders.buying import expired_pending
    from streamsvc.orders.fulfilment import expire

    venue, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=4)
    with database.unit_of_work() as uow:
        assert expired_pending(uow.session, clock.now()) == []  # still held
    clock.advance(minutes=settings.reservation_minutes, seconds=1)
    with database.unit_of_work() as uow:
        due = expired_pending(uow.session, clock.now())
    assert due == [order["id"]]
    expire(database, gateway, order["id"], clock.now())
    expire(database, gateway, order["id"], clock.now())  # idempotent
    assert ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))["status"] == "expired"
    intent = get_object(localstripe, f"/v1/payment_intents/{order['payment']['payment_intent_id']}")
    assert intent["status"] == "canceled"
    tiers = ok(client.get(f"/v1/events/{event['id']}/tiers", headers=venue.headers))["data"]
    assert next(t for t in tiers if t["id"] == tier_id)["held"] == 0
