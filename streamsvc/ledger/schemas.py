"""What the ledger's readers ask and receive."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from streamsvc.kit.pagination import Page, PageQuery
from streamsvc.kit.validation import Timestamp


class LedgerQuery(PageQuery):
    account: Annotated[str, StringConstraints(max_length=120)] | None = None
    from_: Timestamp | None = Field(default=None, alias="from")
    to: Timestamp | None = None

    model_config = {"extra": "forbid", "populate_by_name": True}


class LedgerLine(BaseModel):
    entry_id: int
    transaction: str  # its reference, e.g. charge:ch_…
    posted_at: datetime
    account: str
    amount: int  # debit > 0, credit < 0
    currency: str
    event_id: str | None


LedgerPage = Page[LedgerLine]
