"""Stripe events for one order, built from Stripe's own example objects, and the
means to deliver them (signed) to the webhook and run the inbox as the worker would."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from sqlmodel import col, select
from starlette.testclient import TestClient

from streamsvc.catalog.models import Tier
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import webhooks
from streamsvc.orders.models import Order, OrderItem, Ticket
from streamsvc.payments.models import Dispute, Refund, StripeEvent
from tests.harness import TEST_WEBHOOK_SECRET
from tests.stripe_helpers import event, signed_webhook, stripe_object

__all__ = ["StripeEvent", "event", "signed_webhook", "stripe_object"]

_seq = itertools.count(1)


def _created(at: int | None = None) -> int:
    """Stripe's `created` of an event: later for every call, unless given."""
    return 1_800_000_000 + next(_seq) if at is None else at


def moment() -> int:
    """A `created` second of its own, for events Stripe stamps in the same second."""
    return _created()


def succeeded(
    order: dict[str, Any], amount: int | None = None, created: int | None = None
) -> dict[str, Any]:
    pi = stripe_object("payment_intent", id=order["payment"]["payment_intent_id"],
                       amount=order["total_amount"], status="succeeded",
                       amount_received=amount or order["total_amount"],
                       currency=order["currency"].lower(), metadata={"order_id": order["id"]})  # fmt: skip
    return event("payment_intent.succeeded", pi, created=_created(created))


def failed(order: dict[str, Any], created: int | None = None) -> dict[str, Any]:
    pi = stripe_object("payment_intent", id=order["payment"]["payment_intent_id"],
                       status="requires_payment_method", metadata={"order_id": order["id"]},
                       last_payment_error={"type": "card_error", "code": "card_declined",
                                           "message": "Your card was declined."})  # fmt: skip
    return event("payment_intent.payment_failed", pi, created=_created(created))


def refund(
    order: dict[str, Any], refund_id: str, amount: int, status: str = "succeeded",
    created: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    obj = stripe_object("refund", id=refund_id, amount=amount, status=status,
                        payment_intent=order["payment"]["payment_intent_id"], metadata={})  # fmt: skip
    kind = f"refund.{'failed' if status == 'failed' else 'updated'}"
    return event(kind, obj, created=_created(created))


def charge_refunded(order: dict[str, Any], refunds: list[tuple[str, int]]) -> dict[str, Any]:
    pi = order["payment"]["payment_intent_id"]
    data = [stripe_object("refund", id=rid, amount=amount, status="succeeded", payment_intent=None,
                          metadata={}) for rid, amount in refunds]  # fmt: skip
    charge = stripe_object("charge", payment_intent=pi, amount=order["total_amount"],
                           amount_refunded=sum(a for _, a in refunds), refunded=True,
                           refunds={"object": "list", "data": data, "has_more": False})  # fmt: skip
    return event("charge.refunded", charge, created=_created())


def dispute(
    order: dict[str, Any], dispute_id: str, kind: str, status: str, created: int | None = None
) -> dict[str, Any]:
    obj = stripe_object("dispute", id=dispute_id, amount=order["total_amount"], status=status,
                        payment_intent=order["payment"]["payment_intent_id"])  # fmt: skip
    return event(f"charge.dispute.{kind}", obj, created=_created(created))


def deliver(client: TestClient, evt: dict[str, Any]) -> dict[str, Any]:
    body, headers = signed_webhook(evt, TEST_WEBHOOK_SECRET)
    response = client.post("/v1/stripe/webhook", content=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def drain(database: Database, clock: FixedClock) -> int:
    """Process every received inbox row, as the worker's task does."""
    with database.unit_of_work() as uow:
        waiting = list(
            uow.session.exec(select(StripeEvent.id).where(StripeEvent.status == "received"))
        )
    for event_id in waiting:
        with database.unit_of_work() as uow:
            webhooks.process(uow, event_id, clock.now())
    return len(waiting)


class Worker:
    """What the Celery worker does with the webhook's queue: process each enqueued
    event id, in the order enqueued (a task may also run twice: acks_late)."""

    def __init__(
        self, database: Database, clock: FixedClock, sent: list[Any], followups: list[Any]
    ) -> None:
        self.database, self.clock, self.sent = database, clock, sent
        self.done = 0  # how much of `sent` was worked off
        # What processing enqueued in turn, through the handlers of the domain events
        # it raised: the `followups` fixture's list, shared with the bus.
        self.followups = followups

    def run(self) -> list[str]:
        """Process what was enqueued since the last run; the event ids processed."""
        waiting, self.done = self.sent[self.done :], len(self.sent)
        # A message carries the ids of the events one commit stored (the webhook intake).
        ids = [i for name, args in waiting if name == "payments.process_stripe_event" for i in args]
        for event_id in ids:
            self.process(event_id)
        return ids

    def process(self, event_id: str) -> str:
        with self.database.unit_of_work() as uow:
            return webhooks.process(uow, event_id, self.clock.now())


def snapshot(database: Database, order_id: str, event_ids: Iterable[str]) -> dict[str, Any]:
    """Everything processing Stripe events may write for one order, as stored: the
    order, its tickets, refunds, disputes, its tiers' counts and the inbox rows."""

    def rows(objects: Iterable[Any], exclude: set[str] | None = None) -> list[dict[str, Any]]:
        dumped = [o.model_dump(exclude=exclude) for o in objects]
        return sorted(dumped, key=lambda row: str(row.get("id")))

    with database.unit_of_work() as uow:
        session = uow.session
        order = session.get(Order, order_id)
        assert order is not None, order_id
        tier_ids = list(
            session.exec(select(OrderItem.tier_id).where(OrderItem.order_id == order_id))
        )
        return {
            "order": order.model_dump(),
            "tickets": rows(session.exec(select(Ticket).where(Ticket.order_id == order_id))),
            "refunds": rows(session.exec(select(Refund).where(Refund.order_id == order_id))),
            "disputes": rows(session.exec(select(Dispute).where(Dispute.order_id == order_id))),
            "tiers": rows(session.exec(select(Tier).where(col(Tier.id).in_(tier_ids)))),
            "inbox": rows(
                session.exec(select(StripeEvent).where(col(StripeEvent.id).in_(list(event_ids)))),
                exclude={"payload"},
            ),
        }
