"""Outages degrade loudly and lose nothing.

Redis unreachable: the viewing endpoints answer 503 with Retry-After (the media-server
hooks refuse in their own protocol), not 500, and the log says so once per outage.
The broker unreachable: what the API accepted (a webhook, a refund, a reconciliation,
a cancellation) waits in the outbox, and once the broker is back a worker does each
piece of work exactly once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import celery
import pytest
import redis
from sqlmodel import col, select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.bootstrap import message_bus
from streamsvc.db import Database, make_engine
from streamsvc.embedded import free_port
from streamsvc.jobs.models import Job
from streamsvc.kit.clock import FixedClock
from streamsvc.orders.models import Order
from streamsvc.outbox.bus import FAST_PATH_GRACE
from streamsvc.outbox.models import OutboxMessage
from streamsvc.outbox.relay import relay
from streamsvc.payments.models import Refund, StripeEvent
from tests.conftest import RecordingQueue
from tests.factories import buy, ok, published_event
from tests.harness import TEST_WEBHOOK_SECRET, WorkerProcess
from tests.mailbox import Mailbox
from tests.orders import scenarios as s
from tests.stripe_helpers import get_object, pay_with_card
from tests.viewing import conftest as viewing
from tests.viewing.conftest import Show
from tests.viewing.test_viewing import _doors_open
from workers.celery_app import create_celery
from workers.queue import CeleryQueue
from workers.tasks.payments import SWEEP_GRACE, send_waiting

REDIS_DOWN = "Redis (viewing sessions) unreachable"
show = viewing.show  # the viewing tests' fixture: a published event with tiers


@pytest.fixture
def redis_down(settings: Settings, clock: FixedClock) -> Iterator[TestClient]:
    """The API of a process whose Redis refuses every connection."""
    down = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    app = create_app(down, clock, queue=RecordingQueue())
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_viewing_answers_503_with_retry_after_while_redis_is_down(
    show: Show, redis_down: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    _, [code, spare] = show.paid_tickets("hd", quantity=2)
    _doors_open(show)
    started = show.redeem(code, "tv")  # through the API whose Redis is up
    assert started.status_code == 201, started.text
    token, event_id = started.json()["token"], show.event["id"]

    def unavailable(response: Any) -> None:
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "dependency_unavailable"
        assert int(response.headers["Retry-After"]) > 0

    caplog.set_level(logging.WARNING)
    for _ in range(5):
        unavailable(redis_down.post(f"/v1/tickets/{spare}/sessions", json={"device_id": "tv"},
                                    headers={"CF-IPCountry": "NL"}))  # fmt: skip
        unavailable(redis_down.post("/v1/viewing/heartbeat", headers={"X-Viewing-Token": token}))
        unavailable(redis_down.get("/v1/viewing/authorize", headers={
            "X-Original-URI": f"/live/{event_id}/hd/index.m3u8",
            "Authorization": f"Bearer {token}",
        }))  # fmt: skip
        # The media servers' hooks refuse in their own protocol (any code but 0 for SRS).
        srs = redis_down.post("/v1/viewing/hooks/srs",
                              json={"app": event_id, "stream": "hd", "param": f"?token={token}"})  # fmt: skip
        assert (srs.status_code, srs.json()) == (200, {"code": 503})
        ome = redis_down.post("/v1/viewing/hooks/ome", json={"request": {
            "direction": "outgoing", "status": "opening",
            "url": f"ws://media/{event_id}/hd?token={token}",  # OME: /{app}/{stream}
        }})  # fmt: skip
        assert (ome.status_code, ome.json()) == (
            200, {"allowed": False, "reason": "dependency_unavailable"}
        )  # fmt: skip
    said = [r for r in caplog.records if REDIS_DOWN in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in said]
    assert said[0].levelno == logging.ERROR
    # The Redis the other API uses was up all along: the session still plays there.
    assert show.authorize(token).status_code == 204


def _pending(database: Database) -> list[str]:
    with database.unit_of_work() as uow:
        query = select(OutboxMessage.kind).where(col(OutboxMessage.done_at).is_(None))
        return sorted(uow.session.exec(query))


def _wait_for(what: str, check: Callable[[], bool], limit: float = 45) -> None:
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, f"not done within {limit}s: {what}"
        time.sleep(0.2)


@pytest.fixture
def broker_down(settings: Settings, clock: FixedClock) -> Iterator[TestClient]:
    """The API of a process whose broker refuses every connection (its Celery app is
    the real one, built from settings; only the broker URL points nowhere)."""
    current = celery.current_app._get_current_object()  # create_celery makes its app current
    down = settings.model_copy(update={"celery_broker_url": f"redis://127.0.0.1:{free_port()}/0"})
    try:
        queue = CeleryQueue(create_celery(down))
    finally:
        current.set_current()
    with TestClient(create_app(down, clock, queue=queue), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.worker
def test_work_accepted_while_the_broker_is_down_is_done_once_when_it_is_back(
    client: TestClient, clock: FixedClock, database: Database, settings: Settings,
    localstripe: str, shop: Any, broker_down: TestClient, celery_app: Any,
    worker: WorkerProcess, mailbox: Mailbox, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    venue, event, tier_id = shop
    # Paid before the outage: an order to refund (processed by the API that can send).
    refunded = buy(client, event["id"], tier_id, email="refunded@example.org")
    pay_with_card(localstripe, refunded["payment"]["payment_intent_id"])
    s.deliver(client, s.succeeded(refunded))
    s.drain(database, clock)
    # A second event, with a paid order, to cancel.
    other = published_event(client, venue, clock.now(), title="Second night")
    [other_tier] = [t["id"] for t in ok(client.get(f"/v1/events/{other['id']}/tiers",
                                                    headers=venue.headers))["data"]]  # fmt: skip
    cancelled = buy(client, other["id"], other_tier, email="cancelled@example.org")
    pay_with_card(localstripe, cancelled["payment"]["payment_intent_id"])
    s.deliver(client, s.succeeded(cancelled))
    s.drain(database, clock)
    paying = buy(client, event["id"], tier_id, email="paying@example.org")
    pay_with_card(localstripe, paying["payment"]["payment_intent_id"])
    assert _pending(database) == []

    # The broker goes away. Each kind of request is accepted and answered 2xx.
    caplog.set_level(logging.WARNING)
    payment = s.succeeded(paying)
    body, headers = s.signed_webhook(payment, TEST_WEBHOOK_SECRET)
    started = time.monotonic()
    webhook = broker_down.post("/v1/stripe/webhook", content=body, headers=headers)
    assert webhook.status_code == 200, webhook.text
    assert time.monotonic() - started < 5  # a refused send fails fast
    refund = ok(broker_down.post(f"/v1/orders/{refunded['id']}/refunds",
                                 json={"reason": "cannot come"}, headers=venue.headers), 202)  # fmt: skip
    reconciliation = ok(broker_down.post("/v1/finance/reconciliations",
                                         json={"event_id": event["id"]}, headers=venue.headers),
                        202)  # fmt: skip
    cancellation = ok(broker_down.post(f"/v1/events/{other['id']}/cancel",
                                       headers=venue.headers), 202)  # fmt: skip
    # The webhook's event needs no outbox row: the inbox is its own (its row waits,
    # `received`, for the inbox sweep).
    assert _pending(database) == [
        "CancellationRequested", "ReconciliationRequested", "RefundRequested",
    ]  # fmt: skip
    # Said once for each kind of work, not once per request.
    said = [r.getMessage() for r in caplog.records if "wait in the outbox" in r.getMessage()]
    assert len(said) == 3, said
    swept = [r.getMessage() for r in caplog.records if "does their work later" in r.getMessage()]
    assert len(swept) == 1 and "payments.sweep_inbox" in swept[0], swept
    with database.unit_of_work() as uow:  # stored, answered, and not yet processed
        stored = uow.session.get(StripeEvent, payment["id"])
        assert stored is not None and stored.status == "received"
    assert (refund["status"], reconciliation["status"], cancellation["status"]) == (
        "requested", "queued", "queued"
    )  # fmt: skip

    # The broker is back: the relay (beat's outbox.relay) and the inbox sweep (beat's
    # payments.sweep_inbox) hand everything to the worker.
    mirror = redis.Redis.from_url(settings.require("redis_url"))
    good = Database(make_engine(settings.require("database_url"), pool_size=2),
                    bus=message_bus(settings, mirror, CeleryQueue(celery_app).enqueue))  # fmt: skip
    try:
        later = datetime.now(UTC) + FAST_PATH_GRACE
        assert relay(good, good.bus, later) == 3  # type: ignore[arg-type]
        assert _pending(database) == []
        send = CeleryQueue(celery_app).enqueue
        assert send_waiting(good, send, clock.now()) == 0  # left a while to its own message
        assert send_waiting(good, send, clock.now() + SWEEP_GRACE + timedelta(seconds=1)) == 1

        def job(job_id: str) -> Job:
            with database.unit_of_work() as uow:
                found = uow.session.get(Job, job_id)
                assert found is not None
                return found

        def refunds_of(order_id: str) -> list[Refund]:
            with database.unit_of_work() as uow:
                return list(uow.session.exec(select(Refund).where(Refund.order_id == order_id)))

        def order(order_id: str) -> Order:
            with database.unit_of_work() as uow:
                found = uow.session.get(Order, order_id)
                assert found is not None
                return found

        _wait_for("the payment", lambda: order(paying["id"]).status == "paid")
        _wait_for("the reconciliation", lambda: job(reconciliation["id"]).status == "succeeded")
        _wait_for("the cancellation", lambda: job(cancellation["id"]).status == "succeeded")

        def refunded_once(order_id: str) -> Callable[[], bool]:
            return lambda: [r.status for r in refunds_of(order_id)] == ["succeeded"]

        for order_id in (refunded["id"], cancelled["id"]):
            _wait_for(f"the refund of {order_id}", refunded_once(order_id))
        _wait_for("the ticket mail", lambda: order(paying["id"]).tickets_mailed_at is not None)
        # Nothing is left, and a second relay finds nothing to do.
        assert relay(good, good.bus, later) == 0  # type: ignore[arg-type]
    finally:
        good.dispose()
        mirror.close()

    # Each piece of work was done once: one payment recorded and mailed, one refund per
    # order at Stripe, the jobs finished.
    assert order(paying["id"]).paid_amount == paying["total_amount"]
    assert [m.rcpt_tos for m in mailbox.received].count(["paying@example.org"]) == 1
    assert [r.id for r in refunds_of(refunded["id"])] == [refund["id"]]
    for paid in (refunded, cancelled):
        [stored_refund] = refunds_of(paid["id"])
        assert stored_refund.stripe_refund_id
        intent = get_object(
            localstripe, f"/v1/payment_intents/{paid['payment']['payment_intent_id']}"
        )
        charge = intent["latest_charge"]  # localstripe expands it
        assert charge["amount_refunded"] == paid["total_amount"]
        assert charge["refunds"]["total_count"] == 1
    assert job(cancellation["id"]).result["refunds_requested"] == 1
