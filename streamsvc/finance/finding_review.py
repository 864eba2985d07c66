"""Reading and acknowledging reconciliation findings (the finance console).

Acknowledging says "a person looked at this and wrote why it is in order (or what was
done about it)". It is a row of its own (finding_acknowledgements) plus the audit
entry `finding.acknowledged` with the note; it never touches the finding, the
balance transactions or the ledger: a difference with Stripe is resolved by what
Stripe reports next, never by editing our books.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from streamsvc import audit
from streamsvc.catalog.models import Event
from streamsvc.errors import Conflict, ValidationFailed
from streamsvc.finance.models import FindingAcknowledgement
from streamsvc.kit.pagination import decode_cursor, encode_cursor
from streamsvc.ledger.models import ReconciliationFinding
from streamsvc.staff.models import Person
from streamsvc.venues.tenancy import owned

NOTE_MAX = 1000
PER_PAGE = 25
Shown = Literal["open", "acknowledged", "all"]


@dataclass(frozen=True)
class ReviewedFinding:
    finding: ReconciliationFinding
    event_title: str | None
    acknowledgement: FindingAcknowledgement | None
    acknowledged_by: str | None  # the person's display name

    @property
    def stripe_object(self) -> str:
        """The Stripe object (or our record) the finding is about, without its prefix."""
        prefix, _, rest = self.finding.reference.partition(":")
        return rest if prefix in ("bt", "payout", "order", "refund", "dispute") else (
            self.finding.reference)  # fmt: skip


def findings_page(
    session: Session, venue_id: str, shown: Shown, cursor: str | None, *,
    event_id: str | None = None, limit: int = PER_PAGE,
) -> tuple[list[ReviewedFinding], str | None]:  # fmt: skip
    """The venue's findings, the newest first, open or acknowledged or all, a page at a
    time (keyset on the finding's time and id); the cursor of the next page."""
    acked = col(FindingAcknowledgement.finding_id)
    query = (
        select(ReconciliationFinding, Event.title, FindingAcknowledgement, Person.display_name)
        .join(Event, col(Event.id) == col(ReconciliationFinding.event_id), isouter=True)
        .join(FindingAcknowledgement, acked == col(ReconciliationFinding.id), isouter=True)
        .join(Person, col(Person.id) == col(FindingAcknowledgement.acknowledged_by),
              isouter=True)
        .where(ReconciliationFinding.venue_id == venue_id)
    )  # fmt: skip
    if shown == "open":
        query = query.where(acked.is_(None))
    elif shown == "acknowledged":
        query = query.where(acked.is_not(None))
    if event_id:
        query = query.where(ReconciliationFinding.event_id == event_id)
    at, found_id = col(ReconciliationFinding.created_at), col(ReconciliationFinding.id)
    if cursor:
        after, after_id = decode_cursor(cursor)
        query = query.where(or_(at < after, and_(at == after, found_id < after_id)))
    rows = list(session.exec(query.order_by(at.desc(), found_id.desc()).limit(limit + 1)))
    page = [ReviewedFinding(finding, title, ack, name) for finding, title, ack, name in rows]
    more = len(page) > limit
    page = page[:limit]
    last = page[-1].finding if more and page else None
    return page, encode_cursor(last.created_at, last.id) if last else None


def reviewed(session: Session, venue_id: str, finding_id: str) -> ReviewedFinding:
    """One finding of the venue with its acknowledgement; 404 for another venue's."""
    finding = owned(session, ReconciliationFinding, finding_id, venue_id)
    event = session.get(Event, finding.event_id) if finding.event_id else None
    ack = session.get(FindingAcknowledgement, finding.id)
    person = session.get(Person, ack.acknowledged_by) if ack else None
    return ReviewedFinding(finding, event.title if event else None, ack,
                           person.display_name if person else None)  # fmt: skip


def acknowledge(
    session: Session, venue_id: str, finding_id: str, *, person_id: str, note: str,
    now: datetime,
) -> FindingAcknowledgement:  # fmt: skip
    """Acknowledge a finding of the venue with a note (required, at most NOTE_MAX
    characters), once; recorded in the audit log with the note. The ledger is not
    touched. 404 for another venue's finding, 409 when it is acknowledged already."""
    note = note.strip()
    if not note:
        raise ValidationFailed("The note is required.", fields={"note": "Field required"})
    if len(note) > NOTE_MAX:
        raise ValidationFailed("The note is too long.", fields={"note": f"at most {NOTE_MAX}"})
    # The lock makes two people acknowledging at once one acknowledgement and a 409.
    finding = owned(session, ReconciliationFinding, finding_id, venue_id, lock=True)
    if session.get(FindingAcknowledgement, finding.id) is not None:
        raise Conflict("This finding is acknowledged already.", code="already_acknowledged")
    ack = FindingAcknowledgement(finding_id=finding.id, venue_id=venue_id, note=note,
                                 acknowledged_by=person_id, acknowledged_at=now)  # fmt: skip
    session.add(ack)
    audit.record(
        session, venue_id=venue_id, action="finding.acknowledged", object_type="finding",
        object_id=finding.id,
        changes={"note": note, "kind": finding.kind, "reference": finding.reference,
                 "event_id": finding.event_id},
    )  # fmt: skip
    session.flush()
    return ack
