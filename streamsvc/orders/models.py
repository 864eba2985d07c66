"""Orders, their items and the tickets they issue."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from streamsvc.kit.columns import enum_string, timestamp


class OrderStatus(StrEnum):
    pending = "pending"
    paid = "paid"
    expired = "expired"
    failed = "failed"
    refunded = "refunded"
    partially_refunded = "partially_refunded"
    disputed = "disputed"
    cancelled = "cancelled"


class CapacityState(StrEnum):
    """Where an order's units are counted on its tiers."""

    held = "held"
    sold = "sold"
    released = "released"


class OrderDisputeStatus(StrEnum):
    """An order's disputes summed up (state.dispute_state): any lost, else any open, else won."""

    open = "open"
    won = "won"
    lost = "lost"


class TicketStatus(StrEnum):
    valid = "valid"
    suspended = "suspended"
    revoked = "revoked"


class Order(SQLModel, table=True):
    __tablename__ = "orders"

    id: str = Field(primary_key=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    # None for the order of a season pass (`pass_id`), which belongs to no one event.
    event_id: str | None = Field(default=None, foreign_key="events.id", index=True,
                                 max_length=32)  # fmt: skip
    # The season pass this order buys (passes/buying.py); None for tickets. No foreign
    # key: orders are loaded without the passes module; pass_holdings points back here.
    pass_id: str | None = Field(default=None, index=True, max_length=32)
    # The recording and the offer of it this order buys (recordings/access.py); None
    # otherwise. No foreign keys, for the same reason as pass_id.
    recording_id: str | None = Field(default=None, index=True, max_length=32)
    recording_offer_id: str | None = Field(default=None, max_length=32)
    email: str = Field(max_length=254, index=True)
    country: str | None = Field(default=None, max_length=2)
    locale: str = Field(max_length=2)  # nl | en, for the ticket mail
    status: OrderStatus = enum_string(OrderStatus, 24, index=True)
    capacity: CapacityState = enum_string(CapacityState, 12)
    total_amount: int
    currency: str = Field(max_length=3)
    token_hash: str = Field(max_length=64)  # SHA-256 of the buyer's order_token
    payment_intent_id: str | None = Field(default=None, max_length=255, unique=True)
    split_rule_version: int
    paid_amount: int = 0
    refunded_amount: int = 0  # refunds that succeeded or are under way
    dispute_status: OrderDisputeStatus | None = enum_string(OrderDisputeStatus, 12, nullable=True)
    # Why the last attempt to pay failed (Stripe's code, e.g. card_declined), shown on
    # the checkout page while the order waits for another attempt; None otherwise.
    payment_error: str | None = Field(default=None, max_length=64)
    expires_at: datetime = timestamp(index=True)
    paid_at: datetime | None = timestamp(nullable=True)
    tickets_mailed_at: datetime | None = timestamp(nullable=True)
    created_at: datetime = timestamp(index=True)
    updated_at: datetime = timestamp()


class OrderItem(SQLModel, table=True):
    __tablename__ = "order_items"

    id: str = Field(primary_key=True, max_length=32)
    order_id: str = Field(foreign_key="orders.id", index=True, max_length=32)
    tier_id: str = Field(foreign_key="tiers.id", index=True, max_length=32)
    quantity: int
    unit_amount: int  # what one ticket cost, VAT included
    vat_rate_bps: int  # the tier's rate when sold
    position: int
    # The tier's bundle components when sold ([{label, amount, vat_rate_bps}] per
    # ticket); empty: the whole line is taxed at vat_rate_bps (catalog/bundles.py).
    components: list[dict[str, Any]] = Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    )


class Ticket(SQLModel, table=True):
    __tablename__ = "tickets"
    __table_args__ = (UniqueConstraint("order_item_id", "serial", name="ticket_once"),)

    id: str = Field(primary_key=True, max_length=32)
    code: str = Field(max_length=40, unique=True)  # what the buyer redeems; unguessable
    order_id: str = Field(foreign_key="orders.id", index=True, max_length=32)
    order_item_id: str = Field(foreign_key="order_items.id", max_length=32)
    serial: int  # 0 .. quantity-1 within its item: issuing twice is impossible
    tier_id: str = Field(foreign_key="tiers.id", max_length=32)
    event_id: str = Field(foreign_key="events.id", index=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", max_length=32)
    status: TicketStatus = enum_string(TicketStatus, 12)
    revoked_by_staff: bool = False  # an admin revoked this one ticket: final
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class RescheduleNotice(SQLModel, table=True):
    """One buyer told of one reschedule: the mail to send (once), and the buyer's right
    to ask for a refund until the event's `refund_until` (orders/rescheduling.py).

    Refers to the order by id only: the buyer's address stays on the order, which
    erasure anonymises."""

    __tablename__ = "reschedule_notices"
    __table_args__ = (
        UniqueConstraint("order_id", "rescheduled_at", name="reschedule_notice_once"),
    )

    id: str = Field(primary_key=True, max_length=32)
    event_id: str = Field(foreign_key="events.id", index=True, max_length=32)
    order_id: str = Field(foreign_key="orders.id", index=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", max_length=32)
    rescheduled_at: datetime = timestamp()  # the event's reschedule this notice is of
    previous_starts_at: datetime = timestamp()
    mailed_at: datetime | None = timestamp(nullable=True)
    created_at: datetime = timestamp()
