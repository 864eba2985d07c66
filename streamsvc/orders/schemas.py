"""Request and response shapes of orders, tickets and refunds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt, StringConstraints

from streamsvc.catalog.schemas import Amount, ObjectId
from streamsvc.kit.described import (
    BPS,
    COUNTRY,
    CURRENCY,
    ORDER_STATUS,
    TICKET_STATUS,
    id_of,
    money,
    when,
)
from streamsvc.kit.pagination import PageQuery
from streamsvc.kit.validation import Country, Email, WriteModel

# The JSON contract spells the values out (and OpenAPI lists them inline); they are
# exactly the values of models.OrderStatus and models.TicketStatus, which the code uses.
OrderStatusName = Literal[
    "pending", "paid", "expired", "failed", "refunded", "partially_refunded", "disputed",
    "cancelled",
]  # fmt: skip
TicketStatusName = Literal["valid", "suspended", "revoked"]


ORDER_ID = id_of("the order", "ord")
EVENT_ID = id_of("the event", "evt")
# A staff view of an order names what it bought: an event's tickets (`event_id`) or a
# recording's offer (`recording_id`, `recording_offer_id`); the other ids are null.
ORDER_EVENT_ID = (
    id_of("the event whose tickets the order buys", "evt")
    + " Null for the order of a recording (see `recording_id`)."
)
ORDER_RECORDING_ID = (
    id_of("the recording the order buys (a rental, a purchase or a free play)", "rec")
    + " Null for an order of an event's tickets."
)
ORDER_RECORDING_OFFER_ID = (
    id_of("the recording's offer bought", "rof") + " Null for an order of an event's tickets."
)
TIER_ID = id_of("the tier", "tier")
TOTAL = money("What the whole order costs, VAT included")
EXPIRES_AT = when("Until when the seats are held for an unpaid order")
BUYER_EMAIL = "The buyer's e-mail address: the tickets are mailed there."
TICKETS = "The order's tickets, one per unit bought; empty until the order is paid."
DISPUTE_STATUS = (
    "The order's chargebacks summed up: `lost` if any was lost, else `open` if any is "
    "open, else `won`; null when there was none."
)
REFUND_ORIGIN = (
    "Who started the refund: `staff`, `event_cancelled`, `event_rescheduled` (the buyer "
    "asked, within the period after the event moved), `sold_out_after_expiry` (paid "
    "after the hold expired and the tier sold out) or `stripe` (made in Stripe's dashboard)."
)
REFUND_STATUS = (
    "`requested` (recorded, not yet sent to Stripe), then Stripe's: `pending`, "
    "`requires_action`, `succeeded`, `failed` or `canceled`."
)


class OrderItemIn(WriteModel):
    tier_id: ObjectId = Field(description=TIER_ID)
    quantity: Annotated[StrictInt, Field(ge=1, le=100)] = Field(
        description="How many tickets of the tier (at most the event's per-order limit)."
    )
    amount: Amount | None = Field(
        default=None,
        description=money("For a pay-what-you-want tier only: what one ticket costs"),
    )


class OrderCreate(WriteModel):
    email: Email = Field(description=BUYER_EMAIL)
    items: Annotated[list[OrderItemIn], Field(min_length=1, max_length=20)] = Field(
        description="What is bought: one line per tier."
    )
    country: Country | None = Field(
        default=None, description=f"Where the buyer watches from: {COUNTRY}"
    )


class PaymentInfo(BaseModel):
    provider: Literal["stripe"] = Field(default="stripe", description="Who takes the payment.")
    payment_intent_id: str | None = Field(description="The Stripe PaymentIntent (`pi_…`).")
    client_secret: str | None = Field(
        description="For Stripe.js to confirm the payment in the buyer's browser; keep it "
        "out of logs and URLs."
    )


class OrderCreated(BaseModel):
    id: str = Field(description=ORDER_ID)
    status: OrderStatusName = Field(description=ORDER_STATUS)
    total_amount: int = Field(description=TOTAL)
    currency: str = Field(description=CURRENCY)
    expires_at: datetime = Field(description=EXPIRES_AT)
    order_token: str = Field(
        description="Lets the buyer read the order (send it in the X-Order-Token header); "
        "shown this once, and only its hash is kept."
    )
    payment: PaymentInfo | None = Field(description="How to pay; null when nothing is to be paid.")


class TicketPublic(BaseModel):
    # The id is what staff name a ticket by (revocation); the code is the buyer's secret.
    id: str = Field(description=id_of("the ticket", "tkt") + " Staff revoke a ticket by it.")
    code: str = Field(
        description="What the buyer redeems to watch (POST /v1/tickets/{code}/sessions): "
        "a bearer secret, never put in a staff URL."
    )
    tier_id: str = Field(description=TIER_ID)
    status: TicketStatusName = Field(description=TICKET_STATUS)


OrderToken = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class PublicOrderQuery(BaseModel):
    model_config = {"extra": "forbid"}
    # Kept for clients written before X-Order-Token; a query string is more easily
    # logged (proxies, browser history) than a header.
    order_token: OrderToken | None = Field(
        default=None,
        description="Deprecated: send the token in the X-Order-Token header instead.",
        json_schema_extra={"deprecated": True},
    )


class PublicOrderHeaders(BaseModel):
    x_order_token: OrderToken | None = Field(
        default=None,
        alias="X-Order-Token",
        description="The order_token given when the order was placed (preferred to the query).",
    )


class PublicOrder(BaseModel):
    id: str = Field(description=ORDER_ID)
    event_id: str = Field(description=EVENT_ID)
    status: OrderStatusName = Field(description=ORDER_STATUS)
    total_amount: int = Field(description=TOTAL)
    currency: str = Field(description=CURRENCY)
    expires_at: datetime = Field(description=EXPIRES_AT)
    tickets: list[TicketPublic] = Field(description=TICKETS)


class OrderItemOut(BaseModel):
    tier_id: str = Field(description=TIER_ID)
    quantity: int = Field(description="How many tickets of the tier.")
    unit_amount: int = Field(description=money("What one ticket cost, VAT included"))
    vat_rate_bps: int = Field(description=f"The tier's VAT rate when sold. {BPS}")


class RefundOut(BaseModel):
    id: str = Field(description=id_of("the refund", "ref"))
    amount: int = Field(description=money("What is refunded"))
    currency: str = Field(description=CURRENCY)
    origin: str = Field(description=REFUND_ORIGIN)
    reason: str = Field(description="Why, in the words of whoever refunded (may be empty).")
    status: str = Field(description=REFUND_STATUS)
    stripe_refund_id: str | None = Field(
        description="Stripe's refund (`re_…`); null until it is sent to Stripe."
    )
    created_at: datetime = Field(description=when("When the refund was recorded"))


class OrderOut(BaseModel):
    id: str = Field(description=ORDER_ID)
    event_id: str | None = Field(description=ORDER_EVENT_ID)
    recording_id: str | None = Field(default=None, description=ORDER_RECORDING_ID)
    recording_offer_id: str | None = Field(default=None, description=ORDER_RECORDING_OFFER_ID)
    email: str = Field(description=BUYER_EMAIL)
    country: str | None = Field(description=f"Where the buyer said they watch from: {COUNTRY}")
    status: OrderStatusName = Field(description=ORDER_STATUS)
    total_amount: int = Field(description=TOTAL)
    currency: str = Field(description=CURRENCY)
    paid_amount: int = Field(description=money("What Stripe took for the order"))
    refunded_amount: int = Field(description=money("What is refunded or being refunded"))
    dispute_status: str | None = Field(description=DISPUTE_STATUS)
    split_rule_version: int = Field(
        description="The version of the event's split rule the order's revenue is split by."
    )
    payment_intent_id: str | None = Field(description="The Stripe PaymentIntent (`pi_…`).")
    expires_at: datetime = Field(description=EXPIRES_AT)
    paid_at: datetime | None = Field(description=when("When the payment arrived; null until"))
    created_at: datetime = Field(description=when("When the order was placed"))
    items: list[OrderItemOut] = Field(description="What was bought: one line per tier.")
    refunds: list[RefundOut] = Field(description="The order's refunds, oldest first.")
    tickets: list[TicketPublic] = Field(description=TICKETS)


class OrderSummary(BaseModel):
    id: str = Field(description=ORDER_ID)
    event_id: str | None = Field(description=ORDER_EVENT_ID)
    recording_id: str | None = Field(default=None, description=ORDER_RECORDING_ID)
    recording_offer_id: str | None = Field(default=None, description=ORDER_RECORDING_OFFER_ID)
    email: str = Field(description=BUYER_EMAIL)
    status: OrderStatusName = Field(description=ORDER_STATUS)
    total_amount: int = Field(description=TOTAL)
    currency: str = Field(description=CURRENCY)
    refunded_amount: int = Field(description=money("What is refunded or being refunded"))
    created_at: datetime = Field(description=when("When the order was placed"))


class OrderListQuery(PageQuery):
    event_id: ObjectId | None = None
    recording_id: ObjectId | None = None
    status: OrderStatusName | None = None
    email: Annotated[str, StringConstraints(max_length=254)] | None = None


class RefundCreate(WriteModel):
    amount: Annotated[StrictInt, Field(ge=1, le=1_000_000_000)] | None = Field(
        default=None, description=money("What to refund; by default all that is left")
    )
    reason: Annotated[str, StringConstraints(max_length=500)] = Field(
        default="", description="Why, for the venue's records (not sent to the buyer)."
    )
