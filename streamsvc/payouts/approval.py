"""Four eyes on a batch: a second finance or admin member approves it before its file
can be downloaded; a venue with one finance person may waive that (audit-logged).

The database agrees: a batch's approver differs from its creator unless the approval
was made under the waiver (check `payout_batch_approved_by_another`).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from streamsvc import audit
from streamsvc.errors import Conflict, Forbidden
from streamsvc.payouts.models import PayoutBatch, PayoutSettings
from streamsvc.payouts.rail import Instruction, PayoutRail
from streamsvc.payouts.runs import batch_of, payable_lines
from streamsvc.venues.models import Venue


def four_eyes_waived(session: Session, venue_id: str) -> bool:
    found = session.get(PayoutSettings, venue_id)
    return found is not None and found.four_eyes_waived


def set_four_eyes_waived(session: Session, venue_id: str, waived: bool, now: datetime) -> None:
    """Let one member run and approve a batch alone (or not); audit-logged."""
    found = session.get(PayoutSettings, venue_id, with_for_update=True)
    before = found is not None and found.four_eyes_waived
    if before == waived:
        return
    if found is None:
        found = PayoutSettings(venue_id=venue_id, four_eyes_waived=waived, changed_at=now)
    found.four_eyes_waived, found.changed_at = waived, now
    session.add(found)
    audit.record(
        session,
        venue_id=venue_id,
        action="payout_settings.changed",
        object_type="venue",
        object_id=venue_id,
        changes={"four_eyes_waived": audit.change(before, waived)},
    )


def approve(
    session: Session, venue_id: str, batch_id: str, *, approved_by: str, now: datetime
) -> PayoutBatch:
    """Approve a batch as a member other than its creator (or alone, when waived)."""
    batch = batch_of(session, venue_id, batch_id, lock=True)
    if batch.status != "awaiting_approval":
        return batch
    if batch.total <= 0:
        raise Conflict("This batch pays nobody: its lines are all held.", code="payout_empty")
    waived = approved_by == batch.created_by
    if waived and not four_eyes_waived(session, venue_id):
        raise Forbidden(
            "Another finance or admin member must approve a batch you ran.",
            code="approve_own_batch",
        )
    batch.status, batch.approved_by, batch.approved_at = "approved", approved_by, now
    batch.approval_waived = waived
    session.add(batch)
    audit.record(
        session,
        venue_id=venue_id,
        action="payout_batch.approved",
        object_type="payout_batch",
        object_id=batch.id,
        changes={"total": batch.total, "four_eyes_waived": waived},
    )
    return batch


def download(
    session: Session, venue_id: str, batch_id: str, *, rail: PayoutRail, now: datetime
) -> Instruction:
    """The approved batch's file for the bank; each download is audit-logged."""
    batch = batch_of(session, venue_id, batch_id)
    if batch.status == "awaiting_approval":
        raise Conflict(
            "The batch must be approved before its file can be downloaded.",
            code="payout_not_approved",
        )
    lines = payable_lines(session, batch.id)
    if not lines:
        raise Conflict("This batch pays nobody: there is no file.", code="payout_empty")
    venue = session.get(Venue, venue_id)
    assert venue is not None
    made = rail.instruction(batch, lines, venue.name, now)
    audit.record(
        session,
        venue_id=venue_id,
        action="payout_batch.file_downloaded",
        object_type="payout_batch",
        object_id=batch.id,
        changes={
            "rail": rail.name,
            "lines": len(lines),
            "amount": sum(line.amount for line in lines),
        },
    )
    return made
