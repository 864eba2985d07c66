"""Split rules: how an event's distributable net is shared. Every PUT adds a version.

Orders record the version they were sold under, so a later change never rewrites
what was agreed for earlier sales. Once a venue has accepted to co-produce the event
(catalog/coproducers.py), a new version waits for its consent before it is in force.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from streamsvc import audit
from streamsvc.catalog.coproducers import ConsentState, SplitRuleConsent, accepted_partners
from streamsvc.catalog.models import Event, Performer, SplitRule
from streamsvc.catalog.schemas import SplitRulePublic, SplitRuleWrite
from streamsvc.errors import NotFound, ValidationFailed
from streamsvc.kit.ids import new_id
from streamsvc.venues.models import Venue
from streamsvc.venues.tenancy import owned


def put_split_rule(
    session: Session, venue_id: str, event_id: str, data: SplitRuleWrite, now: datetime
) -> SplitRule:
    # The event row lock serialises concurrent PUTs, so versions never collide.
    event = owned(session, Event, event_id, venue_id, lock=True)
    problems = _problems(session, event, data)
    if problems:
        raise ValidationFailed("The split rule is not valid.", fields=problems)
    latest = session.exec(
        select(func.max(SplitRule.version)).where(SplitRule.event_id == event.id)
    ).one()
    rule = SplitRule(
        id=new_id("spr"),
        event_id=event.id,
        venue_id=venue_id,
        version=(latest or 0) + 1,
        platform_fee_bps=data.platform_fee_bps,
        costs=[cost.model_dump() for cost in data.costs],
        shares=[share.model_dump(exclude_none=True) for share in data.shares],
        created_at=now,
    )
    session.add(rule)
    session.flush()
    consents = _ask_consent(session, event, rule, now) if latest else []
    audit.record(
        session, venue_id=venue_id, action="split_rule.versioned", object_type="split_rule",
        object_id=rule.id,
        changes={"event_id": event.id, "version": audit.change(latest, rule.version),
                 "platform_fee_bps": rule.platform_fee_bps,
                 "shares": [{"party": s["party"], "bps": s["bps"]}
                            | ({"guarantee_amount": s["guarantee_amount"]}
                               if s.get("guarantee_amount") is not None else {})
                            for s in rule.shares],
                 "costs": [{"amount": c["amount"], "currency": c["currency"]} for c in rule.costs]}
                | ({"consent_pending": consents} if consents else {}),
    )  # fmt: skip
    return rule


def _ask_consent(session: Session, event: Event, rule: SplitRule, now: datetime) -> list[str]:
    """A change after co-producers accepted waits for each one's consent; a version still
    waiting is superseded by this one (it never comes into force). The co-producers
    asked, by venue id."""
    waiting = session.exec(select(SplitRuleConsent).where(
        SplitRuleConsent.event_id == event.id, SplitRuleConsent.state == ConsentState.pending,
    ).with_for_update()).all()  # fmt: skip
    for consent in waiting:
        consent.state = ConsentState.superseded
        consent.decided_at = now
        session.add(consent)
    partners = accepted_partners(session, event.id)
    for partner in partners:
        session.add(SplitRuleConsent(rule_id=rule.id, partner_venue_id=partner,
                                     event_id=event.id, state=ConsentState.pending,
                                     requested_at=now))  # fmt: skip
    session.flush()
    return partners


def _problems(session: Session, event: Event, data: SplitRuleWrite) -> dict[str, str]:
    problems: dict[str, str] = {}
    total = sum(share.bps for share in data.shares)
    if total != 10_000:
        problems["shares"] = f"shares sum to {total} basis points, not 10000"
    for i, cost in enumerate(data.costs):
        if cost.currency != event.currency:
            problems[f"costs[{i}].currency"] = f"must be the event's currency, {event.currency}"
    performer_ids = [s.party.id for s in data.shares if s.party.type == "performer"]
    venue_ids = [s.party.id for s in data.shares if s.party.type == "venue"]
    performers = set(
        session.exec(
            select(Performer.id).where(
                col(Performer.id).in_(performer_ids), Performer.venue_id == event.venue_id
            )
        )
    )
    # A venue party is the lead venue itself or a venue that accepted to co-produce the
    # event: another tenant is paid from this event only with its consent.
    partners = set(accepted_partners(session, event.id))
    venues = {
        venue_id
        for venue_id in session.exec(select(Venue.id).where(col(Venue.id).in_(venue_ids)))
        if venue_id == event.venue_id or venue_id in partners
    }
    seen: set[tuple[str, str]] = set()
    for i, share in enumerate(data.shares):
        party = (share.party.type, share.party.id)
        if party in seen:
            problems[f"shares[{i}].party"] = "this party already has a share"
        seen.add(party)
        known = performers if share.party.type == "performer" else venues
        if share.party.id not in known:
            problems[f"shares[{i}].party.id"] = (
                "not this venue nor a venue that accepted to co-produce the event"
                if share.party.type == "venue"
                else f"no such {share.party.type}"
            )
    return problems


def get_split_rule(
    session: Session, venue_id: str, event_id: str, version: int | None = None
) -> SplitRule:
    event = owned(session, Event, event_id, venue_id)
    query = select(SplitRule).where(SplitRule.event_id == event.id)
    if version is not None:
        query = query.where(SplitRule.version == version)
    rule = session.exec(query.order_by(col(SplitRule.version).desc())).first()
    if rule is None:
        raise NotFound(
            "This event has no split rule" + (f" version {version}." if version else ".")
        )
    return rule


def public(rule: SplitRule) -> SplitRulePublic:
    return SplitRulePublic.model_validate(rule, from_attributes=True)
