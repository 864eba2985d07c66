"""What the ledger's readers ask and receive."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from streamsvc.kit.described import CURRENCY_LOWER, money, when
from streamsvc.kit.pagination import Page, PageQuery
from streamsvc.kit.validation import Timestamp


class LedgerQuery(PageQuery):
    account: Annotated[str, StringConstraints(max_length=120)] | None = Field(
        default=None, description="Only lines of this account (e.g. `stripe_balance`)."
    )
    from_: Timestamp | None = Field(
        default=None, alias="from", description=when("Lines posted from then, included")
    )
    to: Timestamp | None = Field(default=None, description=when("Lines posted before then"))

    model_config = {"extra": "forbid", "populate_by_name": True}


class LedgerLine(BaseModel):
    entry_id: int = Field(description="The ledger entry's number (ascending with posting).")
    transaction: str = Field(
        description="The reference of the transaction it belongs to, e.g. `bt:txn_…`."
    )
    posted_at: datetime = Field(description=when("When it was posted"))
    account: str = Field(description="The account, e.g. `stripe_balance`, `sales`, `vat`.")
    amount: int = Field(description=money("Debit when positive, credit when negative"))
    currency: str = Field(description=CURRENCY_LOWER)
    event_id: str | None = Field(description="The event it belongs to; null: none.")


LedgerPage = Page[LedgerLine]
