"""The Stripe webhook inbox: store every event once, process it in a worker.

`receive` runs in the webhook request (`store` for many at once: the webhook intake
stores concurrent deliveries together): one INSERT ... ON CONFLICT DO NOTHING keyed
by Stripe's event id, so a redelivery is recognised and nothing is enqueued twice.
`process` runs in a Celery task: it locks the row, hands the event to `apply` (what
an event means for orders is orders' business: orders/webhooks.py, which settles it
idempotently and order-independently) and marks the row processed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from streamsvc.db import UnitOfWork
from streamsvc.kit import jsontext
from streamsvc.payments.models import StripeEvent, StripeEventStatus

log = logging.getLogger(__name__)
# apply(uow, kind, object, created): the effect of one event, given its type, its
# data.object and Stripe's timestamp of it.
Apply = Callable[[UnitOfWork, str, dict[str, Any], int], None]

# The event types the inbox processes; others are stored as ignored.
PAYMENT_EVENTS = ("payment_intent.succeeded", "payment_intent.payment_failed",
                  "payment_intent.canceled")  # fmt: skip
REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")
DISPUTE_EVENTS = ("charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
                  "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated")  # fmt: skip
# Stripe paying the balance out to the operator's bank (finance posts it, once Stripe
# lists all its balance transactions: `reconciliation_completed`).
PAYOUT_EVENTS = ("payout.created", "payout.updated", "payout.paid", "payout.failed",
                 "payout.canceled", "payout.reconciliation_completed")  # fmt: skip
HANDLED = frozenset((*PAYMENT_EVENTS, *REFUND_EVENTS, *DISPUTE_EVENTS, *PAYOUT_EVENTS,
                     "charge.refunded"))  # fmt: skip


class MalformedEvent(ValueError):
    """A signed event we cannot take or apply; retrying it changes nothing."""


_EVENT_ID = re.compile(r"[\x21-\x7e]{1,255}")
_LATEST_CREATED = 253_402_300_799  # 9999-12-31T23:59:59Z, in Unix seconds


def check_event(event: dict[str, Any]) -> None:
    """MalformedEvent unless `event` can be stored as it is: an id, a type, `created` as
    Unix seconds, nesting within jsontext.MAX_DEPTH, and every string storable (no NUL,
    no lone surrogate) and every integer within a signed 64-bit column."""
    event_id, kind, created = event.get("id"), event.get("type"), event.get("created")
    if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
        raise MalformedEvent("the event's id is not 1-255 visible ASCII characters")
    if not isinstance(kind, str) or not 0 < len(kind) <= 100:
        raise MalformedEvent("the event's type is not a string of 1-100 characters")
    if type(created) is not int or not 0 <= created <= _LATEST_CREATED:
        raise MalformedEvent("the event's created is not a time in Unix seconds")
    if jsontext.depth(event) > jsontext.MAX_DEPTH:
        raise MalformedEvent(f"the event nests deeper than {jsontext.MAX_DEPTH} levels")
    try:
        jsontext.refuse_unstorable(event, int64=True)
    except jsontext.UnsafeJson as exc:
        where = ".".join(str(part) for part in exc.loc) or "the event"
        raise MalformedEvent(f"{where}: {exc.reason}") from exc


def object_problem(kind: str, event: dict[str, Any]) -> str | None:
    """Why a handled event's data.object is not what `apply` reads, or None: the fields
    it reads must have Stripe's types."""
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        return "data.object is not an object"
    problem = _fields(obj, _FIELDS_BY_KIND.get(kind, {}))
    if problem is None and kind == "charge.refunded" and obj.get("refunds") is not None:
        refunds = obj["refunds"]
        if not isinstance(refunds, dict):
            # What apply reads as a list object: anything else would fail it again on
            # every retry instead of failing the event once.
            return "refunds is not an object"
        listed = refunds.get("data")
        if not isinstance(listed, list | None):
            return "refunds.data is not a list"
        for index, refund in enumerate(listed or []):
            found = _fields(refund, _REFUND_FIELDS) if isinstance(refund, dict) else "no object"
            if found is not None:
                return f"refunds.data.{index}: {found}"
    return problem


# field -> (its type, may it be missing or null)
_Fields = dict[str, tuple[type | tuple[type, ...], bool]]
_PAYMENT_FIELDS: _Fields = {
    "id": (str, False), "metadata": (dict, True), "payment_intent": (str, True),
    "amount": (int, True), "amount_received": (int, True),
}  # fmt: skip
_REFUND_FIELDS: _Fields = {
    "id": (str, False), "amount": (int, False), "status": (str, True), "reason": (str, True),
    "metadata": (dict, True), "payment_intent": (str, True),
}  # fmt: skip
_DISPUTE_FIELDS: _Fields = {
    "id": (str, False), "amount": (int, False), "status": (str, False), "reason": (str, True),
    "metadata": (dict, True), "payment_intent": (str, True),
}  # fmt: skip

_PAYOUT_FIELDS: _Fields = {
    "id": (str, False), "status": (str, False), "currency": (str, False), "amount": (int, False),
}  # fmt: skip


_FIELDS_BY_KIND: dict[str, _Fields] = {
    "charge.refunded": _PAYMENT_FIELDS,
    **dict.fromkeys(PAYMENT_EVENTS, _PAYMENT_FIELDS),
    **dict.fromkeys(REFUND_EVENTS, _REFUND_FIELDS),
    **dict.fromkeys(DISPUTE_EVENTS, _DISPUTE_FIELDS),
    **dict.fromkeys(PAYOUT_EVENTS, _PAYOUT_FIELDS),
}


def _fields(obj: dict[str, Any], fields: _Fields) -> str | None:
    for name, (kind, optional) in fields.items():
        value = obj.get(name)
        if value is None and optional:
            continue
        if isinstance(value, bool) or not isinstance(value, kind):
            return f"{name} is not a {getattr(kind, '__name__', kind)}"
    return None


def receive(session: Session, event: dict[str, Any], now: datetime) -> tuple[bool, bool]:
    """Store a verified event: (is it new, must it be processed).

    MalformedEvent (the webhook answers 400, and Stripe shows the failure) unless
    `check_event` accepts it. A handled event whose object is not what `apply` reads is
    stored as failed, with the reason, and not processed.
    """
    return store(session, [inbox_row(event, now)])[0]


def inbox_row(event: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The inbox row of a verified event, for `store`; MalformedEvent unless
    `check_event` accepts it. A handled event whose object is not what `apply` reads
    is a failed row, with the reason."""
    check_event(event)
    kind: str = event["type"]
    problem = object_problem(kind, event) if kind in HANDLED else None
    if kind not in HANDLED:
        status = StripeEventStatus.ignored
    else:
        status = StripeEventStatus.failed if problem else StripeEventStatus.received
    if problem is not None:
        log.warning("Stripe event %s (%s) is malformed: %s", event["id"], kind, problem)
    return {
        "id": event["id"],
        "type": kind,
        "created": event["created"],
        "payload": event,
        "status": status,
        "error": f"malformed: {problem}" if problem else None,
        "received_at": now,
        "processed_at": None if status is StripeEventStatus.received else now,
    }


def store(session: Session, rows: Sequence[dict[str, Any]]) -> list[tuple[bool, bool]]:
    """Insert inbox rows (`inbox_row`) in one statement: for each, (is it new, must it be
    processed). An id stored before, or met earlier among `rows`, is not new: of
    concurrent deliveries of one event, exactly one is new."""
    first: dict[str, int] = {}
    for index, row in enumerate(rows):
        first.setdefault(row["id"], index)
    if not first:
        return []
    inserted = set(
        session.execute(
            insert(StripeEvent)
            .values([rows[index] for index in first.values()])
            .on_conflict_do_nothing()
            .returning(col(StripeEvent.id))
        ).scalars()
    )
    outcomes: list[tuple[bool, bool]] = []
    for index, row in enumerate(rows):
        new = first[row["id"]] == index and row["id"] in inserted
        outcomes.append((new, new and row["status"] is StripeEventStatus.received))
    return outcomes


def waiting(session: Session, received_before: datetime, limit: int) -> list[str]:
    """The oldest events still to be processed, received before `received_before`:
    what the inbox sweep hands to a worker again (its message lost, or never sent)."""
    return list(
        session.exec(
            select(StripeEvent.id)
            .where(StripeEvent.status == StripeEventStatus.received)
            .where(col(StripeEvent.received_at) < received_before)
            .order_by(col(StripeEvent.received_at))
            .limit(limit)
        )
    )


def process(uow: UnitOfWork, event_id: str, now: datetime, apply: Apply) -> str:
    """Apply one stored event, once. Returns the row's status afterwards.

    MalformedEvent when the event cannot be applied as it is (its object has other
    types than Stripe's, `apply` finds a value it cannot read): the caller rolls back
    and marks it failed at once (`mark_failed`), since a retry would fail the same way.
    """
    session = uow.session
    row = session.exec(
        select(StripeEvent).where(StripeEvent.id == event_id).with_for_update(skip_locked=True)
    ).first()
    if row is None:
        return "busy_or_unknown"  # another worker holds it, or it never existed
    if row.status != StripeEventStatus.received:
        return row.status
    problem = object_problem(row.type, row.payload)
    if problem is not None:
        raise MalformedEvent(problem)
    obj: dict[str, Any] = row.payload["data"]["object"]
    try:
        apply(uow, row.type, obj, row.created)
    except (KeyError, TypeError, ValueError) as exc:
        # What the event says does not fit (an unknown status, say): it never will.
        raise MalformedEvent(f"{type(exc).__name__}: {exc}") from exc
    row.status, row.processed_at = StripeEventStatus.processed, now
    row.attempts += 1
    session.add(row)
    return row.status


def mark_failed(session: Session, event_id: str, error: str, now: datetime) -> None:
    row = session.get(StripeEvent, event_id)
    if row is not None and row.status == StripeEventStatus.received:
        row.status, row.error, row.processed_at = StripeEventStatus.failed, error[:2000], now
        row.attempts += 1
        session.add(row)
