"""Reading a venue's ledger: its entries, oldest first, a page at a time."""

from __future__ import annotations

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from streamsvc.kit.pagination import decode_cursor, encode_cursor
from streamsvc.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from streamsvc.ledger.schemas import LedgerLine, LedgerPage, LedgerQuery


def entries(session: Session, venue_id: str, query: LedgerQuery) -> LedgerPage:
    """The venue's entries matching `query` (account, from, to), keyset-paginated by
    posting time and entry id, so a page costs the same however deep it is."""
    statement = (
        select(LedgerEntry, LedgerTransaction, LedgerAccount.code)
        .join(LedgerTransaction, col(LedgerTransaction.id) == col(LedgerEntry.transaction_id))
        .join(LedgerAccount, col(LedgerAccount.id) == col(LedgerEntry.account_id))
        .where(LedgerTransaction.venue_id == venue_id)
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
    ordered = statement.order_by(col(LedgerTransaction.posted_at), col(LedgerEntry.id))
    rows = session.exec(ordered.limit(query.limit + 1)).all()
    more = len(rows) > query.limit
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
        for entry, txn, code in rows[: query.limit]
    ]
    cursor = encode_cursor(data[-1].posted_at, str(data[-1].entry_id)) if more and data else None
    return LedgerPage(data=data, next_cursor=cursor)
