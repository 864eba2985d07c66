"""Stripe's events, applied to orders: the inbox (payments/inbox.py) stores and locks
each event once; this module says what it means for its order, through settlement.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from streamsvc.db import UnitOfWork
from streamsvc.orders import settlement
from streamsvc.orders.models import OrderStatus
from streamsvc.payments import inbox
from streamsvc.payments.events import PayoutReported
from streamsvc.payments.gateway import payment_error_code
from streamsvc.payments.inbox import DISPUTE_EVENTS, PAYMENT_EVENTS, PAYOUT_EVENTS, REFUND_EVENTS

log = logging.getLogger(__name__)


def process(uow: UnitOfWork, event_id: str, now: datetime) -> str:
    """Apply one stored event to its order, once; the inbox row's status afterwards."""

    def apply_event(uow: UnitOfWork, kind: str, obj: dict[str, Any], created: int) -> None:
        apply(uow, kind, obj, created, now=now)

    return inbox.process(uow, event_id, now, apply_event)


def apply(
    uow: UnitOfWork,
    kind: str,
    obj: dict[str, Any],
    created: int,
    *,
    now: datetime,
) -> None:
    """What one Stripe event means for its order: record the fact it reports."""
    session = uow.session
    if kind in PAYMENT_EVENTS:
        order = settlement.find_order(session, obj.get("id"), obj.get("metadata"))
        if order is None:
            log.info("%s for %s: no order of ours", kind, obj.get("id"))
        elif kind == "payment_intent.succeeded":
            amount = int(obj.get("amount_received") or obj.get("amount") or 0)
            settlement.record_payment(uow, order, amount, now)
        elif obj.get("id") != order.payment_intent_id:
            # An intent the order no longer uses (replaced after a declined attempt in
            # simulated mode): its failure or cancellation says nothing about the order.
            log.info("%s for %s: not the intent of order %s", kind, obj.get("id"), order.id)
        elif kind == "payment_intent.payment_failed":
            # A declined card or failed bank payment ends nothing: the same intent may
            # still succeed (the buyer tries again), so the order keeps its seats until
            # it expires. The reason is kept for the checkout page.
            reason = payment_error_code(obj.get("last_payment_error")) or "payment_failed"
            settlement.record_failed_attempt(session, order, reason, now)
        else:  # canceled: this intent can never succeed
            status = OrderStatus.expired if order.expires_at <= now else OrderStatus.failed
            settlement.record_payment_failure(session, order, status, now)
    elif kind == "charge.refunded":
        refunds = ((obj.get("refunds") or {}).get("data")) or []
        for refund in refunds:
            refund.setdefault("payment_intent", obj.get("payment_intent"))
            if not refund.get("payment_intent"):
                refund["payment_intent"] = obj.get("payment_intent")
            settlement.record_refund(session, refund, created, now)
    elif kind in REFUND_EVENTS:
        settlement.record_refund(session, obj, created, now)
    elif kind in DISPUTE_EVENTS:
        settlement.record_dispute(session, obj, created, now)
    elif kind in PAYOUT_EVENTS:
        # No order's business: finance posts the payout, reading its balance
        # transactions from Stripe in a worker (orders does not import finance).
        uow.emit(PayoutReported(str(obj["id"])))
