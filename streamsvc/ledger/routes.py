"""Reading the ledger (finance and admin keys)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import and_, or_
from sqlmodel import col, select
from starlette.routing import Route

from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.kit.pagination import Page, PageQuery, decode_cursor, encode_cursor
from streamsvc.kit.validation import Timestamp
from streamsvc.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction


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


@endpoint(
    summary="Ledger entries of the venue, oldest first (account, from, to)",
    tags=("finance",), access=Access.staff, query=LedgerQuery, response=LedgerPage,
)  # fmt: skip
def read_ledger(call: Call, query: LedgerQuery) -> LedgerPage:
    statement = (
        select(LedgerEntry, LedgerTransaction, LedgerAccount.code)
        .join(LedgerTransaction, col(LedgerTransaction.id) == col(LedgerEntry.transaction_id))
        .join(LedgerAccount, col(LedgerAccount.id) == col(LedgerEntry.account_id))
        .where(LedgerTransaction.venue_id == call.venue_id)
    )
    if query.account:
        statement = statement.where(LedgerAccount.code == query.account)
    if query.from_:
        statement = statement.where(col(LedgerTransaction.posted_at) >= query.from_)
    if query.to:
        statement = statement.where(col(LedgerTransaction.posted_at) < query.to)
    if query.cursor:
        after, after_id = decode_cursor(query.cursor)
        statement = statement.where(or_(
            col(LedgerTransaction.posted_at) > after,
            and_(col(LedgerTransaction.posted_at) == after, col(LedgerEntry.id) > int(after_id)),
        ))  # fmt: skip
    rows = call.session.exec(
        statement.order_by(col(LedgerTransaction.posted_at), col(LedgerEntry.id)).limit(
            query.limit + 1
        )
    ).all()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    data = [
        LedgerLine(
            entry_id=entry.id or 0,
            transaction=txn.reference,
            posted_at=txn.posted_at,
            account=code,
            amount=entry.amount,
            currency=entry.currency,
            event_id=txn.event_id,
        )
        for entry, txn, code in rows
    ]
    cursor = encode_cursor(data[-1].posted_at, str(data[-1].entry_id)) if more and data else None
    return LedgerPage(data=data, next_cursor=cursor)


routes = [Route("/v1/finance/ledger", read_ledger, methods=["GET"])]
