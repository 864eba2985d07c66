"""A performer's payout details on `/me`: shown masked, corrected by the performer.

Validation, storage, the audit entry and the hold are the payouts module's
(streamsvc/payouts/details.py), exactly as when finance staff change details: the
change is recorded in the venue's audit log with the performer as the actor, and the
performer's next payment waits until a finance member confirms the new details. On
top, the performer's address on record is told by mail (events.PerformerDetailsChanged),
so a change made by someone else who got into their mailbox or session does not go
unseen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from streamsvc.db import emit
from streamsvc.me.events import PerformerDetailsChanged
from streamsvc.me.reading import PARTY_TYPE, Mine
from streamsvc.payouts import details as payout_details


@dataclass(frozen=True)
class Shown:
    """Payout details as the performer sees them: the IBAN masked."""

    holder: str
    account: str  # masked IBAN
    bic: str | None
    confirmed: bool  # False: changed and waiting for the venue's finance staff


def shown(session: Session, row: Mine) -> Shown | None:
    found = payout_details.details_of(session, row.venue.id, PARTY_TYPE, row.performer.id)
    if found is None:
        return None
    return Shown(
        found.holder, payout_details.mask(found.iban), found.bic, found.confirmed_at is not None
    )


def correct(
    session: Session, row: Mine, *, holder: str, iban: str, bic: str, now: datetime
) -> Shown:
    """The performer's own correction (the caller has made the performer the actor).
    Details typed as they already are change nothing and mail nobody."""
    before = payout_details.details_of(session, row.venue.id, PARTY_TYPE, row.performer.id)
    was = None if before is None else (before.holder, before.iban, before.bic, before.confirmed_at)
    found = payout_details.change(
        session, row.venue.id, PARTY_TYPE, row.performer.id,
        holder=holder, iban=iban, bic=bic, changed_by=row.performer.id, now=now,
    )  # fmt: skip
    if (found.holder, found.iban, found.bic, found.confirmed_at) != was:
        emit(session, PerformerDetailsChanged(row.performer.id))
    after = shown(session, row)
    assert after is not None
    return after
