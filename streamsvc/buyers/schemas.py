"""The erasure request and its answer."""

from __future__ import annotations

from pydantic import BaseModel, Field

from streamsvc.kit.validation import Email, WriteModel


class BuyerErase(WriteModel):
    email: Email = Field(description="The buyer's e-mail address, as on their orders (any case).")


class BuyerErased(BaseModel):
    erased_as: str = Field(
        description="What the orders now carry instead of the address (`erased-…@invalid`)."
    )
    orders: int = Field(description="How many of the venue's orders were anonymised.")
    idempotency_records: int = Field(
        description="Stored answers to the buyer's purchase requests that were deleted."
    )
    webhook_payloads: int = Field(
        description="Stored Stripe webhook payloads the address (and name) was removed from."
    )
    outbox_messages: int = Field(description="Queued messages the address was removed from.")
    mails: int = Field(description="Ticket mails deleted from the development mail outbox.")
