"""Who shares a recording's revenue: rights holders of the venue, and the recording's
versioned split rule over the venue, its performers and those holders.

Modelled on events' split rules (catalog/split_rules.py): every PUT adds a version and
none is ever changed, so that a sale keeps the version it was sold under. The preview
shows what each party would get of a sample revenue, by the waterfall's own steps
(finance/waterfall.py: VAT, platform fee, costs, shares) through `kit.money.allocate`;
Stripe's fee is left out, as it is known only once a payment is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from streamsvc import audit
from streamsvc.catalog.models import Performer
from streamsvc.errors import NotFound, ValidationFailed
from streamsvc.kit.ids import new_id
from streamsvc.kit.money import allocate
from streamsvc.kit.pagination import Page, PageQuery, paginate
from streamsvc.recordings.models import PartyType, Recording, RecordingSplitRule, RightsHolder
from streamsvc.recordings.schemas import (
    RecordingSplitRulePublic,
    RecordingSplitRuleWrite,
    RightsHolderCreate,
    RightsHolderPublic,
    RightsHolderUpdate,
)
from streamsvc.recordings.service import performer_ids_of
from streamsvc.venues.models import Venue
from streamsvc.venues.tenancy import owned

# --- rights holders ---------------------------------------------------------------------


def create_holder(
    session: Session, venue_id: str, data: RightsHolderCreate, now: datetime
) -> RightsHolder:
    holder = RightsHolder(id=new_id("rhd"), venue_id=venue_id, created_at=now, **data.model_dump())
    session.add(holder)
    session.flush()
    return holder


def update_holder(
    session: Session, venue_id: str, holder_id: str, data: RightsHolderUpdate
) -> RightsHolder:
    holder = owned(session, RightsHolder, holder_id, venue_id, lock=True)
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is None and name != "payout_reference":
            raise ValidationFailed("This field cannot be cleared.", fields={name: "cannot be null"})
        setattr(holder, name, value)
    session.add(holder)
    return holder


def get_holder(session: Session, venue_id: str, holder_id: str) -> RightsHolder:
    return owned(session, RightsHolder, holder_id, venue_id)


def list_holders(session: Session, venue_id: str, page: PageQuery) -> Page[RightsHolderPublic]:
    query = select(RightsHolder).where(RightsHolder.venue_id == venue_id)
    rows, cursor = paginate(
        session, query, col(RightsHolder.created_at), col(RightsHolder.id), page
    )
    return Page[RightsHolderPublic](data=[holder_public(r) for r in rows], next_cursor=cursor)


def holder_public(holder: RightsHolder) -> RightsHolderPublic:
    return RightsHolderPublic.model_validate(holder, from_attributes=True)


# --- split rules ------------------------------------------------------------------------


def put_split_rule(
    session: Session,
    venue_id: str,
    recording_id: str,
    data: RecordingSplitRuleWrite,
    now: datetime,
) -> RecordingSplitRule:
    # The recording's row lock serialises concurrent PUTs, so versions never collide.
    recording = owned(session, Recording, recording_id, venue_id, lock=True)
    problems = _problems(session, recording, data)
    if problems:
        raise ValidationFailed("The split rule is not valid.", fields=problems)
    latest = session.exec(
        select(func.max(RecordingSplitRule.version)).where(
            RecordingSplitRule.recording_id == recording.id
        )
    ).one()
    rule = RecordingSplitRule(
        id=new_id("rsr"),
        recording_id=recording.id,
        venue_id=venue_id,
        version=(latest or 0) + 1,
        platform_fee_bps=data.platform_fee_bps,
        costs=[cost.model_dump() for cost in data.costs],
        shares=[share.model_dump() for share in data.shares],
        created_at=now,
    )
    session.add(rule)
    session.flush()
    audit.record(
        session,
        venue_id=venue_id,
        action="recording_split.versioned",
        object_type="recording_split_rule",
        object_id=rule.id,
        changes={
            "recording_id": recording.id,
            "version": audit.change(latest, rule.version),
            "platform_fee_bps": rule.platform_fee_bps,
            "shares": [{"party": s["party"], "bps": s["bps"]} for s in rule.shares],
            "costs": [{"amount": c["amount"], "currency": c["currency"]} for c in rule.costs],
        },
    )
    return rule


def _problems(
    session: Session, recording: Recording, data: RecordingSplitRuleWrite
) -> dict[str, str]:
    problems: dict[str, str] = {}
    total = sum(share.bps for share in data.shares)
    if total != 10_000:
        problems["shares"] = f"shares sum to {total} basis points, not 10000"
    for i, cost in enumerate(data.costs):
        if cost.currency != recording.currency:
            problems[f"costs[{i}].currency"] = (
                f"must be the recording's currency, {recording.currency}"
            )
    wanted = {
        kind: [s.party.id for s in data.shares if s.party.type == kind]
        for kind in ("performer", "rights_holder")
    }
    known = {
        "venue": {recording.venue_id},
        "performer": set(
            session.exec(
                select(Performer.id).where(
                    col(Performer.id).in_(wanted["performer"]),
                    Performer.venue_id == recording.venue_id,
                )
            )
        ),
        "rights_holder": set(
            session.exec(
                select(RightsHolder.id).where(
                    col(RightsHolder.id).in_(wanted["rights_holder"]),
                    RightsHolder.venue_id == recording.venue_id,
                )
            )
        ),
    }
    seen: set[tuple[str, str]] = set()
    for i, share in enumerate(data.shares):
        party = (share.party.type, share.party.id)
        if party in seen:
            problems[f"shares[{i}].party"] = "this party already has a share"
        seen.add(party)
        if share.party.id not in known[share.party.type]:
            problems[f"shares[{i}].party.id"] = (
                "not the recording's venue"
                if share.party.type == "venue"
                else f"no such {share.party.type.replace('_', ' ')}"
            )
    return problems


def get_split_rule(
    session: Session, venue_id: str, recording_id: str, version: int | None = None
) -> RecordingSplitRule:
    recording = owned(session, Recording, recording_id, venue_id)
    query = select(RecordingSplitRule).where(RecordingSplitRule.recording_id == recording.id)
    if version is not None:
        query = query.where(RecordingSplitRule.version == version)
    rule = session.exec(query.order_by(col(RecordingSplitRule.version).desc())).first()
    if rule is None:
        raise NotFound(
            "This recording has no split rule" + (f" version {version}." if version else ".")
        )
    return rule


def latest_rule(session: Session, recording: Recording) -> RecordingSplitRule | None:
    return session.exec(
        select(RecordingSplitRule)
        .where(RecordingSplitRule.recording_id == recording.id)
        .order_by(col(RecordingSplitRule.version).desc())
    ).first()


def rule_public(rule: RecordingSplitRule) -> RecordingSplitRulePublic:
    return RecordingSplitRulePublic.model_validate(rule, from_attributes=True)


def parties_of(session: Session, recording: Recording) -> list[tuple[str, str, str]]:
    """(type, id, name) of who may share: the venue, the recording's performers, then
    the venue's rights holders."""
    venue = session.get(Venue, recording.venue_id)
    assert venue is not None
    ids = performer_ids_of(session, [recording.id]).get(recording.id, [])
    named = {
        p.id: p.name for p in session.exec(select(Performer).where(col(Performer.id).in_(ids)))
    }
    holders = session.exec(
        select(RightsHolder)
        .where(RightsHolder.venue_id == venue.id)
        .order_by(col(RightsHolder.created_at), col(RightsHolder.id))
    )
    return (
        [(PartyType.venue.value, venue.id, venue.name)]
        + [(PartyType.performer.value, i, named.get(i, i)) for i in ids]
        + [(PartyType.rights_holder.value, h.id, h.name) for h in holders.all()[:200]]
    )


# --- the preview ------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """What a sample revenue becomes under a rule; every amount in minor units."""

    gross: int
    vat: int
    platform_fee: int
    costs: tuple[tuple[str, int], ...]  # (label, recouped)
    distributable: int
    parties: tuple[tuple[str, str, int, int], ...]  # (type, id, bps, amount)


def preview(rule: RecordingSplitRule, gross: int, vat_rate_bps: int) -> Preview:
    """The waterfall's steps on one sale of `gross` (VAT included at `vat_rate_bps`)."""
    vat = allocate(gross, [10_000, vat_rate_bps])[1] if vat_rate_bps and gross > 0 else 0
    revenue = gross - vat
    fee_bps = rule.platform_fee_bps
    fee = allocate(revenue, [fee_bps, 10_000 - fee_bps])[0] if revenue > 0 and fee_bps else 0
    left = revenue - fee
    recouped = []
    for cost in rule.costs:
        taken = max(0, min(int(cost["amount"]), left))
        recouped.append((str(cost["label"]), taken))
        left -= taken
    shares = [(s["party"]["type"], s["party"]["id"], int(s["bps"])) for s in rule.shares]
    amounts = allocate(left, [bps for *_, bps in shares]) if left > 0 else [0] * len(shares)
    return Preview(
        gross=gross,
        vat=vat,
        platform_fee=fee,
        costs=tuple(recouped),
        distributable=left,
        parties=tuple(
            (kind, pid, bps, amount)
            for (kind, pid, bps), amount in zip(shares, amounts, strict=True)
        ),
    )
