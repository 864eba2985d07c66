"""What the payout pages show: recent batches, a batch's lines, the parties' details."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from streamsvc.catalog.models import Performer
from streamsvc.payouts.details import Party, hold_reason, mask
from streamsvc.payouts.models import PayoutBatch, PayoutDetails
from streamsvc.recordings.models import RightsHolder
from streamsvc.venues.models import Venue

MAX_PARTIES = 500  # a page of parties; a venue with more finds one by its page


@dataclass(frozen=True)
class PartyRow:
    party: Party
    masked_iban: str  # "" without details
    holder: str
    status: str  # ok | no_details | invalid_iban | unconfirmed
    changed_by: str | None


def recent_batches(session: Session, venue_id: str, limit: int = 24) -> list[PayoutBatch]:
    return list(
        session.exec(
            select(PayoutBatch)
            .where(PayoutBatch.venue_id == venue_id)
            .order_by(col(PayoutBatch.created_at).desc(), col(PayoutBatch.id))
            .limit(limit)
        )
    )


def parties(session: Session, venue_id: str) -> list[PartyRow]:
    """The venue itself, its performers and its recordings' rights holders, with their
    details masked."""
    venue = session.get(Venue, venue_id)
    assert venue is not None
    performers = session.exec(
        select(Performer.id, Performer.name)
        .where(Performer.venue_id == venue_id)
        .order_by(col(Performer.name), col(Performer.id))
        .limit(MAX_PARTIES)
    )
    holders = session.exec(
        select(RightsHolder.id, RightsHolder.name)
        .where(RightsHolder.venue_id == venue_id)
        .order_by(col(RightsHolder.name), col(RightsHolder.id))
        .limit(MAX_PARTIES)
    )
    found = [
        Party("venue", venue.id, venue.name),
        *(Party("performer", pid, name) for pid, name in performers),
        *(Party("rights_holder", hid, name) for hid, name in holders),
    ]
    details = {
        (d.party_type, d.party_id): d
        for d in session.exec(select(PayoutDetails).where(PayoutDetails.venue_id == venue_id))
    }
    rows = []
    for party in found:
        d = details.get((party.type, party.id))
        rows.append(
            PartyRow(
                party,
                mask(d.iban) if d else "",
                d.holder if d else "",
                hold_reason(d) or "ok",
                d.changed_by if d else None,
            )
        )
    return rows
