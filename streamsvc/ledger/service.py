"""Posting to the ledger: balanced, idempotent by reference, append-only.

`post` writes one transaction with its entries, or nothing when a transaction with
that reference exists already (so a re-run of any money task posts nothing twice).
`reverse` posts the mirror image of a transaction under a new reference.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from streamsvc.kit.ids import new_id
from streamsvc.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction


class UnbalancedPosting(ValueError):
    """The lines of a posting do not sum to zero (the database would refuse it too)."""


@dataclass(frozen=True)
class Line:
    account: str  # the account code, e.g. "stripe_balance" or "payable:performer:prf_…"
    amount: int  # debit > 0, credit < 0, minor units
    party: tuple[str, str] | None = None  # (type, id) of a payable account's party


def account(
    session: Session, venue_id: str, code: str, currency: str, now: datetime, *,
    party: tuple[str, str] | None = None,
) -> str:  # fmt: skip
    """The id of a venue's account, created on first use (concurrent creators agree)."""
    party_type, party_id = party or (None, None)
    session.execute(
        insert(LedgerAccount)
        .values(id=new_id("acc"), venue_id=venue_id, code=code, currency=currency,
                party_type=party_type, party_id=party_id, created_at=now)
        .on_conflict_do_nothing(constraint="ledger_account_once")
    )  # fmt: skip

    found: str = session.exec(
        select(LedgerAccount.id).where(
            LedgerAccount.venue_id == venue_id,
            LedgerAccount.code == code,
            LedgerAccount.currency == currency,
        )
    ).one()
    return found


def post(
    session: Session,
    *,
    venue_id: str,
    reference: str,
    currency: str,
    lines: Sequence[Line],
    now: datetime,
    event_id: str | None = None,
    description: str = "",
    reverses: str | None = None,
    recording_id: str | None = None,
) -> LedgerTransaction | None:
    """Post a balanced transaction once; None when `reference` was posted before."""
    total = sum(line.amount for line in lines)
    if total != 0:
        raise UnbalancedPosting(f"{reference}: the lines sum to {total}")
    if len([line for line in lines if line.amount != 0]) < 2:
        raise UnbalancedPosting(f"{reference}: a transaction needs two or more entries")
    txn_id = new_id("ltx")
    inserted = session.execute(
        insert(LedgerTransaction)
        .values(
            id=txn_id,
            venue_id=venue_id,
            event_id=event_id,
            recording_id=recording_id,
            reference=reference,
            currency=currency,
            description=description[:500],
            reverses=reverses,
            posted_at=now,
        )
        .on_conflict_do_nothing(index_elements=["reference"])
        .returning(col(LedgerTransaction.id))
    ).first()
    if inserted is None:
        return None  # posted before: exactly once
    parties = {line.account: line.party for line in lines}
    accounts = {code: account(session, venue_id, code, currency, now, party=party)
                for code, party in parties.items()}  # fmt: skip
    # One INSERT for all entries: the database checks the balance per statement.
    session.execute(
        insert(LedgerEntry).values([
            {"transaction_id": txn_id, "account_id": accounts[line.account],
             "amount": line.amount, "currency": currency}
            for line in lines if line.amount != 0
        ])
    )  # fmt: skip
    return session.get(LedgerTransaction, txn_id)


def reverse(
    session: Session, reference: str, reversal_reference: str, now: datetime, why: str = ""
) -> LedgerTransaction | None:
    """Post the mirror image of the transaction `reference` (once)."""
    original = session.exec(
        select(LedgerTransaction).where(LedgerTransaction.reference == reference)
    ).first()
    if original is None:
        raise LookupError(f"no ledger transaction {reference!r}")
    rows = session.exec(
        select(LedgerAccount, LedgerEntry.amount)
        .join(LedgerAccount, col(LedgerAccount.id) == col(LedgerEntry.account_id))
        .where(LedgerEntry.transaction_id == original.id)
    ).all()
    lines = [Line(acc.code, -amount, _party(acc)) for acc, amount in rows]
    return post(
        session, venue_id=original.venue_id, reference=reversal_reference,
        currency=original.currency, lines=lines,
        now=now, event_id=original.event_id, description=why or f"reverses {reference}",
        reverses=original.id,
    )  # fmt: skip


def _party(account: LedgerAccount) -> tuple[str, str] | None:
    if account.party_type is None or account.party_id is None:
        return None
    return account.party_type, account.party_id


def balances(
    session: Session, venue_id: str, currency: str, codes: Collection[str] | None = None
) -> dict[str, int]:
    """Each account's balance (sum of its entries), by code; only `codes` when given."""
    query = (
        select(LedgerAccount.code, func.coalesce(func.sum(LedgerEntry.amount), 0))
        .join(LedgerEntry, col(LedgerEntry.account_id) == col(LedgerAccount.id), isouter=True)
        .where(LedgerAccount.venue_id == venue_id, LedgerAccount.currency == currency)
        .group_by(col(LedgerAccount.code))
    )
    if codes is not None:
        query = query.where(col(LedgerAccount.code).in_(list(codes)))
    rows = session.exec(query).all()
    return {code: int(total) for code, total in rows}
