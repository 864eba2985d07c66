"""Co-productions: invitations, the partner's answer, consent to split-rule versions,
and what an accepted co-producer may read of the event.

The lead venue (the event's owner) invites another venue by id; the partner's admin
accepts or declines. Both steps are written to the audit log of both venues. An
accepted co-producer may be named a party of the split rule (catalog/split_rules.py),
sees the event read-only with its statement restricted to its own party, and finds
its rows in its exports (finance/exports.py). A split-rule version made after it
accepted waits for its consent (catalog/coproducers.py); its consent is recorded here.

A partner reaches a co-produced event only through its co-production row: every read
checks that the row names the caller's venue as an accepted partner, and answers 404
otherwise, so nothing tells one venue what another venue's other events are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from streamsvc import audit
from streamsvc.catalog.coproducers import (
    ConsentState,
    CoProduction,
    CoProductionStatus,
    SplitRuleConsent,
    pending_consents,
    version_in_force,
)
from streamsvc.catalog.models import Event, SplitRule
from streamsvc.errors import Conflict, NotFound, ValidationFailed
from streamsvc.finance import accounts
from streamsvc.finance.statement import Statement, statement
from streamsvc.kit.context import actor_var
from streamsvc.kit.ids import new_id
from streamsvc.venues.models import Venue
from streamsvc.venues.tenancy import owned


def _actor_id() -> str:
    actor = actor_var.get()
    return actor.id[:64] if actor is not None else "system"


def _record_both(
    session: Session, row: CoProduction, action: str, changes: dict[str, object], *,
    object_type: str = "co_production", object_id: str | None = None,
) -> None:  # fmt: skip
    """The same entry in the lead venue's audit log and the partner's."""
    for venue_id in (row.lead_venue_id, row.partner_venue_id):
        audit.record(session, venue_id=venue_id, action=action, object_type=object_type,
                     object_id=object_id or row.id,
                     changes={"event_id": row.event_id, "lead_venue_id": row.lead_venue_id,
                              "partner_venue_id": row.partner_venue_id, **changes})  # fmt: skip


def invite(session: Session, lead_venue_id: str, event_id: str, partner_venue_id: str,
           now: datetime) -> CoProduction:  # fmt: skip
    """Invite a venue to co-produce the lead venue's event. A declined invitation may be
    sent again; an open or accepted one is a conflict."""
    event = owned(session, Event, event_id, lead_venue_id, lock=True)
    if partner_venue_id == lead_venue_id:
        raise ValidationFailed("A venue cannot co-produce its own event.",
                               fields={"venue_id": "another venue's id"})  # fmt: skip
    partner = session.get(Venue, partner_venue_id)
    if partner is None:
        raise ValidationFailed("No such venue.", fields={"venue_id": "no such venue"})
    row = session.exec(select(CoProduction).where(
        CoProduction.event_id == event.id, CoProduction.partner_venue_id == partner.id,
    ).with_for_update()).first()  # fmt: skip
    if row is not None and row.status != CoProductionStatus.declined:
        raise Conflict(f"This venue is already {row.status} as a co-producer of the event.")
    if row is None:
        row = CoProduction(id=new_id("cop"), event_id=event.id, lead_venue_id=lead_venue_id,
                           partner_venue_id=partner.id, status=CoProductionStatus.invited,
                           invited_by=_actor_id(), invited_at=now)  # fmt: skip
    else:
        row.status, row.invited_by, row.invited_at = CoProductionStatus.invited, _actor_id(), now
        row.decided_by = row.decided_at = None
    session.add(row)
    session.flush()
    _record_both(session, row, "co_production.invited", {"status": "invited"})
    return row


def decide(session: Session, partner_venue_id: str, co_production_id: str, *, accept: bool,
           now: datetime) -> CoProduction:  # fmt: skip
    """The partner's answer to an open invitation."""
    row = invitation(session, partner_venue_id, co_production_id, lock=True)
    if row.status != CoProductionStatus.invited:
        raise Conflict(f"This invitation was already {row.status}.")
    row.status = CoProductionStatus.accepted if accept else CoProductionStatus.declined
    row.decided_by, row.decided_at = _actor_id(), now
    session.add(row)
    session.flush()
    _record_both(session, row, f"co_production.{row.status}",
                 {"status": audit.change("invited", str(row.status))})  # fmt: skip
    return row


def invitation(session: Session, partner_venue_id: str, co_production_id: str, *,
               lock: bool = False) -> CoProduction:  # fmt: skip
    """A co-production addressed to this venue (any status), or 404."""
    query = select(CoProduction).where(
        CoProduction.id == co_production_id, CoProduction.partner_venue_id == partner_venue_id
    )
    row = session.exec(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound("No such co-production.")
    return row


def accepted(session: Session, partner_venue_id: str, co_production_id: str) -> CoProduction:
    """A co-production this venue accepted, or 404 (an open or declined one shows nothing)."""
    row = invitation(session, partner_venue_id, co_production_id)
    if row.status != CoProductionStatus.accepted:
        raise NotFound("No such co-production.")
    return row


def of_event(session: Session, lead_venue_id: str, event_id: str) -> list[CoProduction]:
    """The lead venue's co-producers of its event, in the order invited."""
    event = owned(session, Event, event_id, lead_venue_id)
    query = select(CoProduction).where(CoProduction.event_id == event.id)
    return list(session.exec(query.order_by(col(CoProduction.invited_at), col(CoProduction.id))))


@dataclass(frozen=True)
class Partnership:
    """A co-production as the partner venue sees it."""

    row: CoProduction
    event: Event
    lead_venue_name: str


def of_partner(session: Session, partner_venue_id: str) -> list[Partnership]:
    """Invitations and co-productions addressed to this venue, newest first."""
    found = session.exec(
        select(CoProduction, Event, Venue)
        .join(Event, col(Event.id) == CoProduction.event_id)
        .join(Venue, col(Venue.id) == CoProduction.lead_venue_id)
        .where(CoProduction.partner_venue_id == partner_venue_id)
        .order_by(col(CoProduction.invited_at).desc(), col(CoProduction.id))
    )
    return [Partnership(row, event, venue.name) for row, event, venue in found]


def event_of(session: Session, row: CoProduction) -> Event:
    event = session.get(Event, row.event_id)
    if event is None:  # the foreign key makes this impossible; say so plainly if it was
        raise NotFound("No such event.")
    return event


def partner_statement(session: Session, row: CoProduction) -> Statement:
    """The event's statement as an accepted co-producer reads it: the waterfall, and of
    the parties only its own (the other parties' parts are the lead venue's business)."""
    full = statement(session, event_of(session, row))
    own = accounts.party({"type": "venue", "id": row.partner_venue_id})
    mine = [party for party in full.parties
            if accounts.party({"type": party.party.type, "id": party.party.id}) == own]  # fmt: skip
    return full.model_copy(update={"parties": mine})


@dataclass(frozen=True)
class RuleState:
    """The split rule as a co-producer sees it: the version in force, and the latest
    version when it waits for consents (with the venues still to consent)."""

    in_force: SplitRule | None
    waiting: SplitRule | None
    waiting_for: list[str]


def rule_state(session: Session, event_id: str) -> RuleState:
    rules = list(session.exec(select(SplitRule).where(SplitRule.event_id == event_id)
                              .order_by(col(SplitRule.version).desc())))  # fmt: skip
    in_force_version = version_in_force(session, event_id)
    in_force = next((r for r in rules if r.version == in_force_version), None)
    latest = rules[0] if rules else None
    waiting_for = (
        [c.partner_venue_id for c in pending_consents(session, latest.id)] if latest else []
    )
    waiting = latest if latest is not None and waiting_for else None
    return RuleState(in_force, waiting, waiting_for)


def consent(session: Session, partner_venue_id: str, co_production_id: str, version: int,
            now: datetime) -> SplitRuleConsent:  # fmt: skip
    """An accepted co-producer consents to a version of the split rule that waits for it.
    Naming the version makes the consent about what the partner read: a newer version
    made meanwhile is a conflict, not a consent by surprise."""
    row = accepted(session, partner_venue_id, co_production_id)
    rule = session.exec(select(SplitRule).where(SplitRule.event_id == row.event_id,
                                                SplitRule.version == version)).first()  # fmt: skip
    if rule is None:
        raise NotFound(f"This event has no split rule version {version}.")
    found = session.exec(select(SplitRuleConsent).where(
        SplitRuleConsent.rule_id == rule.id,
        SplitRuleConsent.partner_venue_id == partner_venue_id,
    ).with_for_update()).first()  # fmt: skip
    if found is None or found.state != ConsentState.pending:
        superseded = found is not None and found.state == ConsentState.superseded
        state = "superseded" if superseded else "not waiting for this venue's consent"
        raise Conflict(f"Split rule version {version} is {state}.")
    found.state, found.decided_by, found.decided_at = ConsentState.given, _actor_id(), now
    session.add(found)
    session.flush()
    in_force = version_in_force(session, row.event_id) == version
    _record_both(session, row, "split_rule.consented",
                 {"version": version, "in_force": in_force}, object_type="split_rule",
                 object_id=rule.id)  # fmt: skip
    return found
