"""What Stripe tells us: the webhook inbox, refunds and disputes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from streamsvc.kit.columns import jsonb, timestamp


class StripeEvent(SQLModel, table=True):
    """The webhook inbox: every event Stripe sent, once (its id is the key)."""

    __tablename__ = "stripe_events"

    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=100)
    created: int  # Stripe's own timestamp of the event
    payload: dict[str, Any] = jsonb()
    status: str = Field(max_length=12, index=True)  # received | processed | ignored | failed
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
    # staff | event_cancelled | sold_out_after_expiry | stripe (made outside streamsvc)
    origin: str = Field(max_length=24)
    reason: str = Field(default="", max_length=500)
    # requested (not yet sent) | pending | succeeded | failed | canceled
    status: str = Field(max_length=12, index=True)
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
    status: str = Field(max_length=32)  # Stripe's: needs_response, under_review, won, lost ...
    reason: str = Field(default="", max_length=100)
    last_event_created: int = 0
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
