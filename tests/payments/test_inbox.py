"""The webhook inbox: an event is stored once and has its effect once, however often
Stripe delivers it and however often the worker's task runs for it.

The worker's task may run twice for one event (acks_late: a worker lost mid-task,
a redelivered message), and a task retried past its last attempt marks the row
failed; in every case a second `process` of a row no longer "received" changes
nothing at all.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.payments import inbox
from tests.conftest import RecordingQueue
from tests.factories import buy
from tests.orders import scenarios as s


def test_processing_a_processed_event_again_changes_nothing(
    client: TestClient,
    clock: FixedClock,
    database: Database,
    queue: RecordingQueue,
    followups: RecordingQueue,
    shop: Any,
) -> None:
    _, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=2)
    events = [s.succeeded(order), s.refund(order, "re_inbox", 500),
              s.dispute(order, "dp_inbox", "created", "needs_response")]  # fmt: skip
    ids = [e["id"] for e in events]
    worker = s.Worker(database, clock, queue.sent, followups.sent)
    for evt in events:
        s.deliver(client, evt)
        assert worker.run() == [evt["id"]]
        clock.advance(seconds=1)
    before = s.snapshot(database, order["id"], ids)
    assert {row["status"] for row in before["inbox"]} == {"processed"}
    assert len(before["tickets"]) == 2 and before["order"]["paid_amount"] == 4000
    enqueued = list(worker.followups)
    assert [name for name, _ in enqueued] == ["orders.send_tickets"]

    clock.advance(hours=1)  # anything written now would show
    for event_id in ids + ids:
        assert worker.process(event_id) == "processed"
    assert s.snapshot(database, order["id"], ids) == before
    assert worker.followups == enqueued  # no second ticket mail, no refund submitted


def test_an_ignored_event_stays_ignored(
    client: TestClient,
    clock: FixedClock,
    database: Database,
    queue: RecordingQueue,
    followups: RecordingQueue,
    shop: Any,
) -> None:
    _, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=2)
    # A type we do not handle, carrying an object that would pay the order if applied.
    paying = s.succeeded(order)
    ignored = s.event("payment_intent.created", paying["data"]["object"])
    assert s.deliver(client, ignored) == {"received": True, "duplicate": False}
    assert queue.sent == []
    before = s.snapshot(database, order["id"], [ignored["id"]])
    [row] = before["inbox"]
    assert (row["status"], row["attempts"]) == ("ignored", 0)
    clock.advance(hours=1)
    worker = s.Worker(database, clock, queue.sent, followups.sent)
    assert worker.process(ignored["id"]) == "ignored"
    assert s.snapshot(database, order["id"], [ignored["id"]]) == before
    assert before["order"]["status"] == "pending" and before["tickets"] == []
    assert worker.followups == []


def test_a_failed_event_is_not_applied_by_a_late_task(
    client: TestClient,
    clock: FixedClock,
    database: Database,
    queue: RecordingQueue,
    followups: RecordingQueue,
    shop: Any,
) -> None:
    _, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=2)
    paid = s.succeeded(order)
    s.deliver(client, paid)
    # The task gave up after its last retry: the row is marked failed, for a human.
    with database.unit_of_work() as uow:
        inbox.mark_failed(uow.session, paid["id"], "RuntimeError('boom')", clock.now())
    before = s.snapshot(database, order["id"], [paid["id"]])
    [row] = before["inbox"]
    assert (row["status"], row["attempts"], row["error"]) == ("failed", 1, "RuntimeError('boom')")
    clock.advance(hours=1)
    worker = s.Worker(database, clock, queue.sent, followups.sent)
    assert worker.run() == [paid["id"]]  # the task that was enqueued, run late
    assert worker.process(paid["id"]) == "failed"
    assert s.snapshot(database, order["id"], [paid["id"]]) == before
    assert before["order"]["status"] == "pending" and before["tickets"] == []
    assert worker.followups == []


def test_a_redelivered_event_is_stored_and_processed_once(
    client: TestClient,
    clock: FixedClock,
    database: Database,
    queue: RecordingQueue,
    followups: RecordingQueue,
    shop: Any,
) -> None:
    _, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=2)
    events = [s.succeeded(order), s.refund(order, "re_again", 700),
              s.dispute(order, "dp_again", "created", "needs_response")]  # fmt: skip
    ids = [e["id"] for e in events]
    worker = s.Worker(database, clock, queue.sent, followups.sent)
    for evt in events:
        # Stripe sends it twice before the worker gets to it...
        assert s.deliver(client, evt) == {"received": True, "duplicate": False}
        assert s.deliver(client, evt) == {"received": True, "duplicate": True}
        assert worker.run() == [evt["id"]]
        clock.advance(seconds=1)
    first = s.snapshot(database, order["id"], ids)
    processed_at = {row["id"]: row["processed_at"] for row in first["inbox"]}
    assert [(row["status"], row["attempts"]) for row in first["inbox"]] == [("processed", 1)] * 3
    assert len(set(processed_at.values())) == 3  # each at its own moment

    # ...and again, later, after it had its effect.
    clock.advance(hours=1)
    for evt in events:
        assert s.deliver(client, evt) == {"received": True, "duplicate": True}
    assert worker.run() == []  # nothing enqueued for a duplicate
    for event_id in ids:  # and a stray task for it changes nothing either
        worker.process(event_id)
    assert s.snapshot(database, order["id"], ids) == first
    assert queue.names().count("payments.process_stripe_event") == len(ids)
    assert [name for name, _ in worker.followups] == ["orders.send_tickets"]


@pytest.mark.parametrize("status", ["requires_action", "on_hold_for_review"])
def test_every_refund_status_stripe_sends_is_stored(
    client: TestClient, clock: FixedClock, database: Database, queue: RecordingQueue,
    followups: RecordingQueue, shop: Any, status: str,
) -> None:  # fmt: skip
    """requires_action (15 characters) and a status we do not know yet are recorded as
    they came, and the refund does not count as under way."""
    venue, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=1)
    worker = s.Worker(database, clock, queue.sent, followups.sent)
    s.deliver(client, s.succeeded(order))
    s.deliver(client, s.refund(order, "re_odd", 2000, status=status))
    worker.run()
    view = client.get(f"/v1/orders/{order['id']}", headers=venue.headers).json()
    assert [(r["stripe_refund_id"], r["status"]) for r in view["refunds"]] == [("re_odd", status)]
    assert (view["status"], view["refunded_amount"]) == ("paid", 0)


# mutant streamsvc.payments.inbox.x_mark_failed__mutmut_11: `attempts = 1` for
#   `attempts += 1`: a row still "received" was never attempted to the end (process
#   counts an attempt only when it marks the row processed), so both give 1.


def test_giving_up_marks_only_a_waiting_event_and_keeps_the_error_bounded(
    client: TestClient, clock: FixedClock, database: Database, queue: RecordingQueue,
    followups: RecordingQueue, shop: Any,
) -> None:  # fmt: skip
    _, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=1)
    done, waiting = s.succeeded(order), s.refund(order, "re_late", 100)
    s.deliver(client, done)
    s.Worker(database, clock, queue.sent, followups.sent).run()
    s.deliver(client, waiting)
    with database.unit_of_work() as uow:
        inbox.mark_failed(uow.session, done["id"], "too late", clock.now())
        inbox.mark_failed(uow.session, waiting["id"], "x" * 3000, clock.now())
        inbox.mark_failed(uow.session, "evt_never_received", "nothing", clock.now())
    rows = {
        r["id"]: r for r in s.snapshot(database, order["id"], [done["id"], waiting["id"]])["inbox"]
    }
    assert (rows[done["id"]]["status"], rows[done["id"]]["error"]) == ("processed", None)
    assert rows[waiting["id"]]["status"] == "failed"
    assert rows[waiting["id"]]["error"] == "x" * 2000
