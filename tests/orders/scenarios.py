"""Stripe events for one order, built from Stripe's own example objects, and the
means to deliver them (signed) to the webhook and run the inbox as the worker would."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from sqlmodel import select
from starlette.testclient import TestClient

from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.payments import inbox
from streamsvc.payments.models import StripeEvent
from tests.harness import TEST_WEBHOOK_SECRET
from tests.stripe_helpers import event, signed_webhook, stripe_object

__all__ = ["StripeEvent", "event", "signed_webhook", "stripe_object"]

_seq = itertools.count(1)


def _created() -> int:
    return 1_800_000_000 + next(_seq)


def succeeded(order: dict[str, Any], amount: int | None = None) -> dict[str, Any]:
    pi = stripe_object("payment_intent", id=order["payment"]["payment_intent_id"],
                       amount=order["total_amount"], status="succeeded",
                       amount_received=amount or order["total_amount"],
                       currency=order["currency"].lower(), metadata={"order_id": order["id"]})  # fmt: skip
    return event("payment_intent.succeeded", pi, created=_created())


def failed(order: dict[str, Any]) -> dict[str, Any]:
    pi = stripe_object("payment_intent", id=order["payment"]["payment_intent_id"],
                       status="requires_payment_method", metadata={"order_id": order["id"]})  # fmt: skip
    return event("payment_intent.payment_failed", pi, created=_created())


def refund(
    order: dict[str, Any], refund_id: str, amount: int, status: str = "succeeded"
) -> dict[str, Any]:
    obj = stripe_object("refund", id=refund_id, amount=amount, status=status,
                        payment_intent=order["payment"]["payment_intent_id"], metadata={})  # fmt: skip
    return event(f"refund.{'failed' if status == 'failed' else 'updated'}", obj, created=_created())


def charge_refunded(order: dict[str, Any], refunds: list[tuple[str, int]]) -> dict[str, Any]:
    pi = order["payment"]["payment_intent_id"]
    data = [stripe_object("refund", id=rid, amount=amount, status="succeeded", payment_intent=None,
                          metadata={}) for rid, amount in refunds]  # fmt: skip
    charge = stripe_object("charge", payment_intent=pi, amount=order["total_amount"],
                           amount_refunded=sum(a for _, a in refunds), refunded=True,
                           refunds={"object": "list", "data": data, "has_more": False})  # fmt: skip
    return event("charge.refunded", charge, created=_created())


def dispute(order: dict[str, Any], dispute_id: str, kind: str, status: str) -> dict[str, Any]:
    obj = stripe_object("dispute", id=dispute_id, amount=order["total_amount"], status=status,
                        payment_intent=order["payment"]["payment_intent_id"])  # fmt: skip
    return event(f"charge.dispute.{kind}", obj, created=_created())


def deliver(client: TestClient, evt: dict[str, Any]) -> dict[str, Any]:
    body, headers = signed_webhook(evt, TEST_WEBHOOK_SECRET)
    response = client.post("/v1/stripe/webhook", content=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def drain(database: Database, clock: FixedClock, enqueue: Callable[[str, str], None]) -> int:
    """Process every received inbox row, as the worker's task does."""
    with database.unit_of_work() as uow:
        waiting = list(
            uow.session.exec(select(StripeEvent.id).where(StripeEvent.status == "received"))
        )
    for event_id in waiting:
        with database.unit_of_work() as uow:
            inbox.process(uow, event_id, clock.now(), enqueue)
    return len(waiting)
