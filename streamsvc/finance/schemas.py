"""What finance's readers and callers send and receive."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from streamsvc.catalog.schemas import ObjectId
from streamsvc.kit.described import id_of, when
from streamsvc.kit.validation import Timestamp, WriteModel


class ReconciliationCreate(WriteModel):
    """One event, or every event of the venue with money activity in [from, to)."""

    event_id: ObjectId | None = Field(
        default=None, description="Reconcile this event (`evt_…`); else by period."
    )
    from_: Timestamp | None = Field(
        default=None, alias="from", description=when("Start of the period, included")
    )
    to: Timestamp | None = Field(
        default=None, description=when("End of the period, excluded; by default now")
    )

    model_config = {"populate_by_name": True}


class FindingsQuery(BaseModel):
    model_config = {"extra": "forbid"}
    event_id: ObjectId | None = Field(default=None, description="Only this event's findings.")


class Finding(BaseModel):
    id: str = Field(description=id_of("the finding", "fnd"))
    event_id: str | None = Field(description="The event it concerns; null: none matched.")
    kind: str = Field(
        description="`missing_in_stripe`, `amount_mismatch`, `currency_mismatch`, "
        "`unbalanced`, `changed_in_stripe`, `unknown_charge`, `ledger_mismatch`, "
        "`unknown_in_payout`, `pass_refund_unallocated` or `payout_mismatch` (the "
        "operator's: a Stripe payout whose amount is not the sum of its balance "
        "transactions' nets)."
    )
    reference: str = Field(description="What differs: the Stripe object or ledger reference.")
    detail: str = Field(description="The difference, in words, with both sides' values.")
    amount: int | None = Field(
        description="The money concerned, in minor units of `currency`: for a mismatch "
        "Stripe's figure minus ours, otherwise the amount of the object found; null where "
        "no amount applies."
    )
    currency: str | None = Field(description="ISO 4217 code of `amount`; null with it.")
    created_at: datetime = Field(description=when("When reconciliation found it"))


class FindingList(BaseModel):
    data: list[Finding] = Field(description="Differences found, newest first.")
