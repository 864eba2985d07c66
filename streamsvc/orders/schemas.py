"""Request and response shapes of orders, tickets and refunds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt, StringConstraints

from streamsvc.catalog.schemas import Amount, ObjectId
from streamsvc.kit.pagination import PageQuery
from streamsvc.kit.validation import Country, Email, WriteModel

# The JSON contract spells the values out (and OpenAPI lists them inline); they are
# exactly the values of models.OrderStatus and models.TicketStatus, which the code uses.
OrderStatusName = Literal[
    "pending", "paid", "expired", "failed", "refunded", "partially_refunded", "disputed",
    "cancelled",
]  # fmt: skip
TicketStatusName = Literal["valid", "suspended", "revoked"]


class OrderItemIn(WriteModel):
    tier_id: ObjectId
    quantity: Annotated[StrictInt, Field(ge=1, le=100)]
    amount: Amount | None = None  # per ticket, for pay-what-you-want tiers only


class OrderCreate(WriteModel):
    email: Email
    items: Annotated[list[OrderItemIn], Field(min_length=1, max_length=20)]
    country: Country | None = None


class PaymentInfo(BaseModel):
    provider: Literal["stripe"] = "stripe"
    payment_intent_id: str | None
    client_secret: str | None


class OrderCreated(BaseModel):
    id: str
    status: OrderStatusName
    total_amount: int
    currency: str
    expires_at: datetime
    order_token: str  # lets the buyer read the order; shown once
    payment: PaymentInfo | None  # None when nothing is to be paid


class TicketPublic(BaseModel):
    code: str
    tier_id: str
    status: TicketStatusName


class PublicOrderQuery(BaseModel):
    model_config = {"extra": "forbid"}
    order_token: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class PublicOrder(BaseModel):
    id: str
    event_id: str
    status: OrderStatusName
    total_amount: int
    currency: str
    expires_at: datetime
    tickets: list[TicketPublic]  # once paid


class OrderItemOut(BaseModel):
    tier_id: str
    quantity: int
    unit_amount: int
    vat_rate_bps: int


class RefundOut(BaseModel):
    id: str
    amount: int
    currency: str
    origin: str
    reason: str
    status: str
    stripe_refund_id: str | None
    created_at: datetime


class OrderOut(BaseModel):
    id: str
    event_id: str
    email: str
    country: str | None
    status: OrderStatusName
    total_amount: int
    currency: str
    paid_amount: int
    refunded_amount: int
    dispute_status: str | None
    split_rule_version: int
    payment_intent_id: str | None
    expires_at: datetime
    paid_at: datetime | None
    created_at: datetime
    items: list[OrderItemOut]
    refunds: list[RefundOut]
    tickets: list[TicketPublic]


class OrderSummary(BaseModel):
    id: str
    event_id: str
    email: str
    status: OrderStatusName
    total_amount: int
    currency: str
    refunded_amount: int
    created_at: datetime


class OrderListQuery(PageQuery):
    event_id: ObjectId | None = None
    status: OrderStatusName | None = None
    email: Annotated[str, StringConstraints(max_length=254)] | None = None


class RefundCreate(WriteModel):
    amount: Annotated[StrictInt, Field(ge=1, le=1_000_000_000)] | None = None  # default: the rest
    reason: Annotated[str, StringConstraints(max_length=500)] = ""
