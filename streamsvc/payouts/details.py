"""Payout details: where a venue pays a party, validated, masked, changed and confirmed.

The IBAN is validated with schwifty (checksum, length and bank code per country) and
stored compact; the BIC is derived from the bank code where schwifty knows the bank,
else the one typed is validated. Lists show the IBAN masked (`NL** **** **** **43 00`).
Changing details is audit-logged (`payout_details.changed`, masked values only) and
holds the party's next payment until a finance member other than the one who changed
them confirms (`payout_details.confirmed`); a database check refuses a confirmation by
the changer too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import text
from sqlmodel import Session, select

from streamsvc import audit
from streamsvc.catalog.models import Performer
from streamsvc.errors import Conflict, Forbidden, NotFound, ValidationFailed
from streamsvc.kit.ids import new_id
from streamsvc.payouts.models import PARTY_TYPES, PayoutDetails
from streamsvc.recordings.models import RightsHolder
from streamsvc.venues.models import Venue

# Why a party is not paid in a run (a held line's reason; the pages say it in words).
NO_DETAILS = "no_details"
INVALID_IBAN = "invalid_iban"
UNCONFIRMED = "unconfirmed"


@dataclass(frozen=True)
class Party:
    type: str  # venue | performer | rights_holder
    id: str
    name: str


def iban_of(typed: str) -> IBAN | None:
    """The IBAN typed (spaces allowed), or None when it is not a valid IBAN."""
    try:
        return IBAN(typed.strip())
    except (SchwiftyException, ValueError):
        return None


def mask(iban: str) -> str:
    """`NL91ABNA0417164300` -> `NL** **** **** **43 00`: the country and the last four."""
    compact = "".join(iban.split()).upper()
    if len(compact) <= 6:
        return "*" * len(compact)
    hidden = compact[:2] + "*" * (len(compact) - 6) + compact[-4:]
    return " ".join(hidden[i : i + 4] for i in range(0, len(hidden), 4))


def validated(holder: str, iban: str, bic: str) -> tuple[str, str, str | None]:
    """(holder, compact IBAN, BIC) from what was typed; 422 naming each bad field."""
    fields: dict[str, str] = {}
    holder = " ".join(holder.split())
    if not holder:
        fields["holder"] = "enter the account holder's name"
    elif len(holder) > 70:
        fields["holder"] = "at most 70"
    parsed = iban_of(iban) if len(iban) <= 50 else None
    if parsed is None:
        fields["iban"] = "not a valid IBAN"
    typed_bic = "".join(bic.split()).upper()
    chosen: str | None = None
    if typed_bic:
        try:
            chosen = str(BIC(typed_bic))
        except (SchwiftyException, ValueError):
            fields["bic"] = "not a valid BIC"
    if parsed is not None and not fields:
        derived = _derived_bic(parsed)
        if derived is not None and chosen is not None and derived[:6] != chosen[:6]:
            fields["bic"] = "does not belong to the IBAN's bank"
        chosen = chosen or derived
    if fields:
        raise ValidationFailed("The form has errors.", fields=fields)
    assert parsed is not None
    return holder, parsed.compact, chosen


def _derived_bic(iban: IBAN) -> str | None:
    try:
        found = iban.bic
    except (SchwiftyException, ValueError):
        return None
    return str(found) if found is not None else None


def party(session: Session, venue_id: str, party_type: str, party_id: str) -> Party:
    """A party the venue's books may pay, or 404: one of its performers, one of its
    recordings' rights holders, itself, or a venue it owes (a co-producer with a
    payable account in its books)."""
    if party_type == "performer":
        performer = session.get(Performer, party_id)
        if performer is not None and performer.venue_id == venue_id:
            return Party("performer", performer.id, performer.name)
    elif party_type == "rights_holder":
        holder = session.get(RightsHolder, party_id)
        if holder is not None and holder.venue_id == venue_id:
            return Party("rights_holder", holder.id, holder.name)
    elif party_type == "venue":
        owed = (
            party_id == venue_id
            or session.execute(
                text(
                    "SELECT 1 FROM ledger_accounts WHERE venue_id = :v AND party_type = 'venue' "
                    "AND party_id = :p LIMIT 1"
                ),
                {"v": venue_id, "p": party_id},
            ).first()
            is not None
        )
        venue = session.get(Venue, party_id) if owed else None
        if venue is not None:
            return Party("venue", venue.id, venue.name)
    raise NotFound("No such party.")


def details_of(
    session: Session, venue_id: str, party_type: str, party_id: str, *, lock: bool = False
) -> PayoutDetails | None:
    query = select(PayoutDetails).where(
        PayoutDetails.venue_id == venue_id,
        PayoutDetails.party_type == party_type,
        PayoutDetails.party_id == party_id,
    )
    return session.exec(query.with_for_update() if lock else query).first()


def hold_reason(found: PayoutDetails | None) -> str | None:
    """Why a run may not pay to these details (None: it may)."""
    if found is None:
        return NO_DETAILS
    # Validated when typed; checked again because what the registry of banks knows
    # changes, and details may come from elsewhere (an import, an older version).
    if iban_of(found.iban) is None:
        return INVALID_IBAN
    if found.confirmed_at is None:
        return UNCONFIRMED
    return None


def change(
    session: Session,
    venue_id: str,
    party_type: str,
    party_id: str,
    *,
    holder: str,
    iban: str,
    bic: str,
    changed_by: str,
    now: datetime,
) -> PayoutDetails:
    """Set a party's details (validated); audit-logged with masked values. Any change
    waits for another finance member's confirmation before the party is paid again."""
    if party_type not in PARTY_TYPES:
        raise NotFound("No such party.")
    party(session, venue_id, party_type, party_id)
    holder, compact, chosen_bic = validated(holder, iban, bic)
    found = details_of(session, venue_id, party_type, party_id, lock=True)
    before = _shown(found)
    before_holder = found.holder if found is not None else None
    if found is not None and (found.holder, found.iban, found.bic) == (holder, compact, chosen_bic):
        return found  # nothing changed: a confirmation stays as it was
    if found is None:
        found = PayoutDetails(
            id=new_id("pdt"),
            venue_id=venue_id,
            party_type=party_type,
            party_id=party_id,
            holder=holder,
            iban=compact,
            bic=chosen_bic,
            changed_by=changed_by,
            changed_at=now,
        )
    else:
        found.holder, found.iban, found.bic = holder, compact, chosen_bic
        found.changed_by, found.changed_at = changed_by, now
        found.confirmed_by = found.confirmed_at = None
    session.add(found)
    changes: dict[str, object] = {
        name: audit.change(before.get(name), value)
        for name, value in _shown(found).items()
        if before.get(name) != value
    }
    if before_holder != holder:  # said, not shown: the log is append-only, names are not
        changes["holder"] = "changed"
    audit.record(
        session,
        venue_id=venue_id,
        action="payout_details.changed",
        object_type=party_type,
        object_id=party_id,
        changes=changes,
    )
    session.flush()
    return found


def confirm(
    session: Session,
    venue_id: str,
    party_type: str,
    party_id: str,
    *,
    confirmed_by: str,
    now: datetime,
) -> PayoutDetails:
    """Confirm changed details as a finance member other than the one who changed them."""
    party(session, venue_id, party_type, party_id)
    found = details_of(session, venue_id, party_type, party_id, lock=True)
    if found is None:
        raise Conflict("There are no payout details to confirm.", code="nothing_to_confirm")
    if found.confirmed_at is not None:
        return found
    if found.changed_by == confirmed_by:
        raise Forbidden(
            "Another finance member must confirm details you changed.", code="confirm_own_change"
        )
    found.confirmed_by, found.confirmed_at = confirmed_by, now
    session.add(found)
    audit.record(
        session,
        venue_id=venue_id,
        action="payout_details.confirmed",
        object_type=party_type,
        object_id=party_id,
        changes={"iban": mask(found.iban), "changed_by": found.changed_by},
    )
    return found


def _shown(found: PayoutDetails | None) -> dict[str, str | None]:
    if found is None:
        return {}
    return {"iban": mask(found.iban), "bic": found.bic}
