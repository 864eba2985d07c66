"""What Stripe tells us: the webhook inbox, refunds and disputes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Field, SQLModel

from streamsvc.kit.columns import enum_string, jsonb, timestamp
from streamsvc.kit.enums import OpenStrEnum


class StripeEventStatus(StrEnum):
    """Where a webhook inbox row stands."""

    received = "received"  # stored, waiting for the worker
    processed = "processed"
    ignored = "ignored"  # a type we do not handle
    failed = "failed"  # gave up after the retries


class RefundStatus(OpenStrEnum):
    """Ours (`requested`: recorded, not yet sent to Stripe), then Stripe's.

    Open: a status Stripe adds later is kept as it came (see OpenStrEnum).
    """

    requested = "requested"
    pending = "pending"
    requires_action = "requires_action"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"


class DisputeStatus(OpenStrEnum):
    """Stripe's dispute statuses. Open: a status Stripe adds later is kept as it came."""

    warning_needs_response = "warning_needs_response"
    warning_under_review = "warning_under_review"
    warning_closed = "warning_closed"
    needs_response = "needs_response"
    under_review = "under_review"
    won = "won"
    lost = "lost"


class StripeEvent(SQLModel, table=True):
    """The webhook inbox: every event Stripe sent, once (its id is the key)."""

    __tablename__ = "stripe_events"

    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=100)
    created: int  # Stripe's own timestamp of the event
    payload: dict[str, Any] = jsonb()
    status: StripeEventStatus = enum_string(StripeEventStatus, 12, index=True)
    attempts: int = 0
    error: str | None = Field(default=None, max_length=2000)
    received_at: datetime = timestamp()
    processed_at: datetime | None = timestamp(nullable=True)


class Refund(SQLModel, table=True):
    __tablename__ = "refunds"

    id: str = Field(primary_key=True, max_length=32)
    order_id: str = Field(foreign_key="orders.id", index=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", max_length=32)
    amount: int
    currency: str = Field(max_length=3)
    # staff | event_cancelled | event_rescheduled | sold_out_after_expiry | stripe (made
    # outside streamsvc)
    origin: str = Field(max_length=24)
    reason: str = Field(default="", max_length=500)
    status: RefundStatus = enum_string(RefundStatus, 32, index=True)  # as disputes; requires_action
    stripe_refund_id: str | None = Field(default=None, max_length=255, unique=True)
    last_event_created: int = 0  # newest Stripe event applied: older ones change nothing
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class Dispute(SQLModel, table=True):
    __tablename__ = "disputes"

    id: str = Field(primary_key=True, max_length=255)  # Stripe's dispute id
    order_id: str = Field(foreign_key="orders.id", index=True, max_length=32)
    amount: int
    currency: str = Field(max_length=3)
    status: DisputeStatus = enum_string(DisputeStatus, 32)
    reason: str = Field(default="", max_length=100)
    last_event_created: int = 0
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
