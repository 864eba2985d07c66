"""The webhook inbox: an event is stored once and has its effect once, however often
Stripe delivers it and however often the worker's task runs for it.

The worker's task may run twice for one event (acks_late: a worker lost mid-task,
a redelivered message), and a task retried past its last attempt marks the row
failed; in every case a second `process` of a row no longer "received" changes
nothing at all.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select
from starlette.testclient import TestClient

from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import webhooks
from streamsvc.payments import inbox
from streamsvc.payments.models import StripeEvent, StripeEventStatus
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


def test_an_event_another_worker_holds_is_skipped_not_waited_for(
    client: TestClient, clock: FixedClock, database: Database, queue: RecordingQueue,
    followups: RecordingQueue, shop: Any,
) -> None:  # fmt: skip
    """Two tasks for one event (a redelivered message): the second does not queue up
    behind the first's row lock, holding a worker and a connection; it leaves the event
    to the first, which applies it."""
    _, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=1)
    paid = s.succeeded(order)
    s.deliver(client, paid)
    with database.unit_of_work() as first:  # a worker in the middle of processing it
        first.session.exec(
            select(StripeEvent).where(StripeEvent.id == paid["id"]).with_for_update()
        ).one()
        with database.unit_of_work() as second:
            # Waiting for the lock fails this test after 5 s instead of hanging it.
            second.session.execute(text("SET LOCAL lock_timeout = '5s'"))
            assert webhooks.process(second, paid["id"], clock.now()) == "busy_or_unknown"
    worker = s.Worker(database, clock, queue.sent, followups.sent)
    assert worker.process(paid["id"]) == "processed"  # the lock gone, it is applied once
    assert worker.process("evt_never_received") == "busy_or_unknown"


def test_a_stored_event_apply_would_misread_is_refused_not_applied(
    client: TestClient, clock: FixedClock, database: Database, shop: Any
) -> None:
    """A row stored before its object was checked (an older release stored every
    handled event), whose amount is a boolean: applied, True would read as 1 cent paid
    and issue tickets. `process` checks the object first and refuses it (the task then
    marks it failed)."""
    _, event, tier_id = shop
    order = buy(client, event["id"], tier_id)
    evt = s.succeeded(order)
    evt["data"]["object"]["amount_received"] = True
    with database.unit_of_work() as uow:
        uow.session.add(StripeEvent(
            id=evt["id"], type=evt["type"], created=evt["created"], payload=evt,
            status=StripeEventStatus.received, received_at=clock.now(),
        ))  # fmt: skip
    refused = pytest.raises(inbox.MalformedEvent, match=r"^amount_received is not a int$")
    with refused, database.unit_of_work() as uow:
        webhooks.process(uow, evt["id"], clock.now())
    after = s.snapshot(database, order["id"], [evt["id"]])
    assert (after["order"]["status"], after["order"]["paid_amount"]) == ("pending", 0)
    assert after["tickets"] == [] and after["inbox"][0]["status"] == "received"


@pytest.mark.parametrize("error", [KeyError("status"), TypeError("not a number"),
                                   ValueError("unknown status 'paused'")])  # fmt: skip
def test_what_apply_cannot_read_fails_the_event_with_why(
    client: TestClient, clock: FixedClock, database: Database, shop: Any, error: Exception
) -> None:
    """An object with Stripe's types that `apply` still cannot read (a value it does not
    know): MalformedEvent, whose message the task stores on the failed row for a human,
    naming the error; the row stays as it was for the task to mark."""
    _, event, tier_id = shop
    evt = s.succeeded(buy(client, event["id"], tier_id))
    s.deliver(client, evt)

    def apply(uow: Any, kind: str, obj: dict[str, Any], created: int) -> None:
        raise error  # what the real apply raises for such a value

    with pytest.raises(inbox.MalformedEvent) as refused, database.unit_of_work() as uow:
        inbox.process(uow, evt["id"], clock.now(), apply)
    assert str(refused.value) == f"{type(error).__name__}: {error}"
    assert refused.value.__cause__ is error
    with database.unit_of_work() as uow:
        row = uow.session.get(StripeEvent, evt["id"])
        assert row is not None and (row.status, row.attempts) == ("received", 0)


# mutant streamsvc.payments.inbox.x_mark_failed__mutmut_11: `attempts = 1` for
#   `attempts += 1`: a row still "received" was never attempted to the end (process
#   counts an attempt only when it marks the row processed), so both give 1.
# mutant streamsvc.payments.inbox.x_process__mutmut_36: the same in process: it counts an
#   attempt only on a row still "received", whose attempts are 0 (mark_failed and
#   process itself count one only as they move the row off "received").


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


# What the inbox refuses, and the reason it gives: the webhook answers it to Stripe
# (shown on the endpoint in Stripe's dashboard), and a failed row keeps it for a human.


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"id": "evt_1", "type": "payment_intent.created",
                             "created": 1_700_000_000, "data": {"object": {"id": "pi_1"}}}  # fmt: skip
    event.update(changes)
    return event


def _nested(levels: int) -> Any:
    """Lists `levels` deep: [[...]]."""
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


LATEST = 253_402_300_799  # 9999-12-31T23:59:59Z
BAD_ID = "the event's id is not 1-255 visible ASCII characters"
BAD_TYPE = "the event's type is not a string of 1-100 characters"
BAD_CREATED = "the event's created is not a time in Unix seconds"


@pytest.mark.parametrize(
    "event",
    [_event(id="!"), _event(id="~" * 255), _event(type="x"), _event(type="x" * 100),
     _event(created=0), _event(created=LATEST), _event(data=_nested(31)),
     _event(data={"object": {"id": "pi_1", "amount": 2**63 - 1, "refund": -(2**63)}})],
)  # fmt: skip
def test_an_event_at_every_bound_is_taken(event: dict[str, Any]) -> None:
    inbox.check_event(event)  # raises nothing


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (_event(id=None), BAD_ID), (_event(id=7), BAD_ID), (_event(id=""), BAD_ID),
        (_event(id="~" * 256), BAD_ID), (_event(id="evt 1"), BAD_ID),
        (_event(id="evt_\x7f"), BAD_ID), (_event(id="evt_1\n"), BAD_ID),
        (_event(type=None), BAD_TYPE), (_event(type=""), BAD_TYPE),
        (_event(type="x" * 101), BAD_TYPE), (_event(type=["x"]), BAD_TYPE),
        (_event(created=None), BAD_CREATED), (_event(created=-1), BAD_CREATED),
        (_event(created=LATEST + 1), BAD_CREATED), (_event(created=True), BAD_CREATED),
        (_event(created=1.0), BAD_CREATED), (_event(created="1700000000"), BAD_CREATED),
        (_event(data=_nested(32)), "the event nests deeper than 32 levels"),
        (_event(data={"object": {"id": "pi_\x00"}}), "data.object.id: contains a NUL character"),
        (_event(data={"object": {"lines": [{"amount": 2**63}]}}),
         "data.object.lines.0.amount: out of range"),
        (_event(**{"n\x00te": 1}), "the event: contains a NUL character"),
        (_event(data={"object": {"id": "pi_\ud800"}}), "data.object.id: contains a lone surrogate"),
    ],
)  # fmt: skip
def test_a_malformed_event_is_refused_with_its_reason(event: dict[str, Any], reason: str) -> None:
    with pytest.raises(inbox.MalformedEvent) as refused:
        inbox.check_event(event)
    assert str(refused.value) == reason


@pytest.mark.parametrize(
    ("kind", "obj", "problem"),
    [
        ("payment_intent.succeeded", {"id": "pi_1"}, None),
        ("payment_intent.succeeded", {"id": "pi_1", "metadata": None, "amount": None}, None),
        ("payment_intent.succeeded", ["pi_1"], "data.object is not an object"),
        ("payment_intent.succeeded", {"amount": 100}, "id is not a str"),
        ("payment_intent.succeeded", {"id": "pi_1", "amount": "100"}, "amount is not a int"),
        ("payment_intent.succeeded", {"id": "pi_1", "amount": True}, "amount is not a int"),
        ("payment_intent.succeeded", {"id": "pi_1", "metadata": "x"}, "metadata is not a dict"),
        ("refund.updated", {"id": "re_1", "amount": 100, "status": "succeeded"}, None),
        ("refund.updated", {"id": "re_1", "amount": None}, "amount is not a int"),
        ("charge.dispute.created", {"id": "dp_1", "amount": 100, "status": None},
         "status is not a str"),
        ("charge.refunded", {"id": "ch_1", "refunds": None}, None),
        ("charge.refunded", {"id": "ch_1", "refunds": {"data": [{"id": "re_1", "amount": 5}]}},
         None),
        ("charge.refunded", {"id": "ch_1", "refunds": [{"id": "re_1", "amount": 5}]},
         "refunds is not an object"),
        ("charge.refunded", {"id": "ch_1", "refunds": {"data": "re_1"}},
         "refunds.data is not a list"),
        ("charge.refunded", {"id": "ch_1", "refunds": {"data": [{"id": "re_1", "amount": 5}, "re_2"]}},
         "refunds.data.1: no object"),
        ("charge.refunded", {"id": "ch_1", "refunds": {"data": [{"id": "re_1"}]}},
         "refunds.data.0: amount is not a int"),
        ("charge.refunded", {"id": 1, "refunds": {"data": "re_1"}}, "id is not a str"),
        ("customer.created", {"anything": True}, None),
    ],
)  # fmt: skip
def test_what_apply_reads_must_have_stripes_types(kind: str, obj: Any, problem: str | None) -> None:
    assert inbox.object_problem(kind, _event(type=kind, data={"object": obj})) == problem


def test_an_event_whose_data_is_not_an_object_is_named_so() -> None:
    for data in (["pi_1"], "pi_1", None):
        problem = inbox.object_problem("payment_intent.succeeded", _event(data=data))
        assert problem == "data.object is not an object"


# mutant streamsvc.payments.inbox.x__fields__mutmut_10: getattr(kind, "__name__", None):
#   the default is there for a tuple of types, and no field table has one (every kind
#   is a type, with a __name__).
# mutant streamsvc.payments.inbox.x__fields__mutmut_13: as _10, without a default.
# mutant streamsvc.payments.inbox.x_receive__mutmut_34: `.returning(None)` for the id: the
#   INSERT still returns a row when it stored the event and none on a conflict, and only
#   whether a row came back is read, never its value.


def test_what_receive_stores_says_and_logs_for_each_kind_of_event(
    database: Database, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A handled event is stored to be processed; one whose object apply would misread is
    stored failed with the reason, and logged once for whoever watches the logs; one we do
    not handle is stored ignored, whatever its object. A second delivery stores nothing."""
    good = _event(id="evt_good", type="payment_intent.succeeded")
    bad = _event(id="evt_bad", type="refund.updated", data={"object": {"id": 5, "amount": 1}})
    other = _event(id="evt_other", type="customer.created", data={"object": "cus_1"})
    now = clock.now()
    with caplog.at_level(logging.WARNING, logger=inbox.__name__), database.unit_of_work() as uow:
        answers = [inbox.receive(uow.session, e, now) for e in (good, bad, other, good)]
    assert answers == [(True, True), (True, False), (True, False), (False, False)]
    assert [r.getMessage() for r in caplog.records if r.name == inbox.__name__] == [
        "Stripe event evt_bad (refund.updated) is malformed: id is not a str"
    ]
    with database.unit_of_work() as uow:
        stored = {
            row.id: (row.type, row.status, row.error, row.processed_at, row.received_at)
            for row in uow.session.exec(select(StripeEvent))
        }
    assert stored == {
        "evt_good": ("payment_intent.succeeded", "received", None, None, now),
        "evt_bad": ("refund.updated", "failed", "malformed: id is not a str", now, now),
        "evt_other": ("customer.created", "ignored", None, now, now),
    }
