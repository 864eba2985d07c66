"""Cancelling an event: the request answers at once with the job, the job settles the
orders in batches (small ones here: 2 orders per batch), resumably and only once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
from sqlmodel import col, select
from starlette.testclient import TestClient

from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import cancellation
from streamsvc.orders.models import Order, Ticket
from streamsvc.payments.models import Refund
from streamsvc.viewing import keys
from tests.conftest import RecordingQueue
from tests.factories import VenueHandle, buy, make_tier, make_venue, ok, published_event
from tests.orders import scenarios as s

BATCH = 2


class Shop:
    """An event on sale with four paid orders (one ticket each) and one pending."""

    def __init__(
        self, client: TestClient, database: Database, clock: FixedClock, followups: RecordingQueue
    ) -> None:
        self.client, self.database, self.clock = client, database, clock
        self.followups = followups  # what the bus of `database` enqueues
        self.venue: VenueHandle = make_venue(client)
        self.event: dict[str, Any] = published_event(client, self.venue, clock.now())
        self.tier_id: str = make_tier(client, self.venue, self.event["id"], name="Limited",
                                      capacity=10, price_amount=2000)["id"]  # fmt: skip
        self.paid = [self.pay(self.buy()) for _ in range(4)]
        self.pending = self.buy()

    def buy(self) -> dict[str, Any]:
        order: dict[str, Any] = buy(self.client, self.event["id"], self.tier_id)
        return order

    def pay(self, order: dict[str, Any]) -> dict[str, Any]:
        s.deliver(self.client, s.succeeded(order))
        s.drain(self.database, self.clock)
        return order

    def order(self, order_id: str) -> Any:
        return ok(self.client.get(f"/v1/orders/{order_id}", headers=self.venue.headers))

    def job(self, job_id: str) -> Any:
        return ok(self.client.get(f"/v1/jobs/{job_id}", headers=self.venue.headers))

    def cancel(self) -> Any:
        response = self.client.post(f"/v1/events/{self.event['id']}/cancel",
                                    headers=self.venue.headers)  # fmt: skip
        return ok(response, 202)

    def order_ids(self) -> list[str]:
        """Every order of the event, in the order the job works them (by id)."""
        return sorted([o["id"] for o in self.paid] + [self.pending["id"]])

    def stored(self) -> dict[str, Any]:
        """Orders, tickets and refunds as stored, to compare runs."""
        with self.database.unit_of_work() as uow:
            session, ids = uow.session, self.order_ids()
            orders = session.exec(select(Order).where(col(Order.id).in_(ids))).all()
            tickets = session.exec(select(Ticket).where(col(Ticket.order_id).in_(ids))).all()
            refunds = session.exec(select(Refund).where(col(Refund.order_id).in_(ids))).all()
            return {
                "orders": sorted((o.id, o.status, o.refunded_amount, o.capacity) for o in orders),
                "tickets": sorted((t.id, t.status) for t in tickets),
                "refunds": sorted((r.id, r.order_id, r.amount, r.origin) for r in refunds),
            }


@pytest.fixture
def shop(
    client: TestClient, database: Database, clock: FixedClock, followups: RecordingQueue
) -> Shop:
    return Shop(client, database, clock, followups)


def _submissions(queue: RecordingQueue) -> list[str]:
    return [args[0] for name, args in queue.sent if name == "payments.submit_refund"]


def _revoked_in_redis(redis_client: redis.Redis, database: Database, order_id: str) -> bool:
    with database.unit_of_work() as uow:
        ticket_ids = uow.session.exec(select(Ticket.id).where(Ticket.order_id == order_id)).all()
    marks = {redis_client.get(keys.ticket_keys(ticket_id)[2]) for ticket_id in ticket_ids}
    return marks == {b"revoked"}


def test_the_request_answers_at_once_and_refuses_access_without_touching_orders(
    shop: Shop, clock: FixedClock, queue: RecordingQueue
) -> None:
    clock.at = datetime.fromisoformat(shop.event["starts_at"]) - timedelta(minutes=30)
    [code] = [t["code"] for t in shop.order(shop.paid[0]["id"])["tickets"]]
    watching = shop.client.post(f"/v1/tickets/{code}/sessions", json={"device_id": "tv"},
                                headers={"CF-IPCountry": "NL"})  # fmt: skip
    assert watching.status_code == 201, watching.text
    before = shop.stored()

    job = shop.cancel()

    assert (job["kind"], job["status"], job["subject_id"]) == (
        "event_cancellation", "queued", shop.event["id"]
    )  # fmt: skip
    assert ("orders.run_cancellation", (job["id"],)) in queue.sent
    assert shop.stored() == before  # no order, ticket or refund was touched
    assert {shop.order(o["id"])["status"] for o in shop.paid} == {"paid"}
    assert shop.order(shop.pending["id"])["status"] == "pending"
    event = ok(shop.client.get(f"/v1/events/{shop.event['id']}", headers=shop.venue.headers))
    assert event["status"] == "cancelled"
    # From the commit on, nothing is sold and the ticket (still valid) gives no access.
    again = shop.client.post(f"/v1/tickets/{code}/sessions", json={"device_id": "phone"},
                             headers={"CF-IPCountry": "NL"})  # fmt: skip
    assert again.status_code == 403 and again.json()["error"]["code"] == "revoked"
    beat = shop.client.post("/v1/viewing/heartbeat",
                            headers={"X-Viewing-Token": watching.json()["token"]})  # fmt: skip
    assert beat.status_code == 403
    sale = shop.client.post(f"/v1/public/events/{shop.event['id']}/orders", json={
        "email": "late@example.org", "country": "NL",
        "items": [{"tier_id": shop.tier_id, "quantity": 1}],
    })  # fmt: skip
    assert sale.status_code == 409 and sale.json()["error"]["code"] == "sales_closed"
    # A pending order whose payment still comes in is refunded at once, not sold.
    shop.followups.sent.clear()
    shop.pay(shop.pending)
    late = shop.order(shop.pending["id"])
    assert late["status"] == "cancelled"
    assert {t["status"] for t in late["tickets"]} <= {"revoked"}
    assert [(r["origin"], r["amount"]) for r in late["refunds"]] == [("event_cancelled", 2000)]
    assert _submissions(shop.followups) == [late["refunds"][0]["id"]]
    # Cancelling again while the job has not finished answers that same job.
    assert shop.cancel()["id"] == job["id"]


def test_the_job_settles_the_orders_batch_by_batch(
    shop: Shop, database: Database, clock: FixedClock, redis_client: redis.Redis
) -> None:
    job_id = shop.cancel()["id"]
    followups, ids = shop.followups, shop.order_ids()
    followups.sent.clear()
    assert len(ids) == 5  # three batches of at most 2

    progress = []
    finished = False
    while not finished:
        finished = cancellation.run_batch(database, job_id, clock.now(), BATCH)
        job = shop.job(job_id)
        progress.append((job["status"], job["progress"]["done"], job["progress"]["total"]))
        settled = ids[: job["progress"]["done"]]
        # This batch's orders are settled and their tickets revoked, in Redis too;
        # the orders after it are untouched.
        for order_id in ids:
            order = shop.order(order_id)
            if order_id in settled:
                assert order["status"] == "cancelled"
                assert {t["status"] for t in order["tickets"]} <= {"revoked"}
                assert not order["tickets"] or _revoked_in_redis(redis_client, database, order_id)
            else:
                assert order["status"] in ("paid", "pending")
                assert {t["status"] for t in order["tickets"]} <= {"valid"}
    assert progress == [("running", 2, 5), ("running", 4, 5), ("succeeded", 5, 5)]
    assert shop.job(job_id)["result"] == {"orders": 5, "refunds_requested": 4}

    refunds = {o["id"]: shop.order(o["id"])["refunds"] for o in shop.paid}
    assert all(
        [(r["origin"], r["status"], r["amount"]) for r in found]
        == [("event_cancelled", "requested", 2000)]
        for found in refunds.values()
    )
    # Each refund's submission is enqueued once, after its batch's commit.
    assert sorted(_submissions(followups)) == sorted(r[0]["id"] for r in refunds.values())
    # The pending order stopped and gave its seat back: only the paid seats count.
    url = f"/v1/events/{shop.event['id']}/tiers"
    tiers = ok(shop.client.get(url, headers=shop.venue.headers))["data"]
    [limited] = [t for t in tiers if t["id"] == shop.tier_id]
    assert (limited["sold"], limited["held"]) == (4, 0)

    # Running the finished job again changes nothing and enqueues nothing.
    before = shop.stored()
    followups.sent.clear()
    cancellation.run(database, job_id, clock.now(), BATCH)
    assert shop.stored() == before and followups.sent == []
    assert shop.job(job_id)["progress"] == {"done": 5, "total": 5}


def test_a_crash_between_batches_resumes_and_refunds_nothing_twice(
    shop: Shop, database: Database, clock: FixedClock
) -> None:
    job_id = shop.cancel()["id"]
    ids = shop.order_ids()
    shop.followups.sent.clear()
    assert not cancellation.run_batch(database, job_id, clock.now(), BATCH)
    first = _submissions(shop.followups)
    # The worker dies here; the task is delivered again and runs the job from the start.
    clock.advance(minutes=1)
    shop.followups.sent.clear()
    cancellation.run(database, job_id, clock.now(), BATCH)
    second = _submissions(shop.followups)

    job = shop.job(job_id)
    assert (job["status"], job["progress"]) == ("succeeded", {"done": 5, "total": 5})
    paid_ids = {o["id"] for o in shop.paid}
    refunded = {}
    for order_id in ids:
        order = shop.order(order_id)
        assert order["status"] == "cancelled"
        if order_id in paid_ids:
            [refund] = order["refunds"]
            refunded[order_id] = refund["id"]
        else:
            assert order["refunds"] == []
    # The resumed run took up after the first batch: it asked for no refund twice.
    first_batch = [refunded[i] for i in ids[:BATCH] if i in refunded]
    assert sorted(first) == sorted(first_batch)
    assert sorted(second) == sorted(set(refunded.values()) - set(first_batch))
    assert job["result"]["refunds_requested"] == 4
