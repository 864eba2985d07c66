"""What the finance pages show, read from the ledger and the catalogue: each event's
statement as waterfall steps (with the geometry of its SVG chart), the split rule's
versions with who made them, and each party's payable balance. Reads only.

Every figure is the statement service's (statement.py) or a ledger balance: nothing
of the money is recomputed here; the chart only scales those figures to pixels.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from streamsvc.actor_names import NAME_SOURCES
from streamsvc.audit.models import AuditEntry
from streamsvc.catalog.events import status_of
from streamsvc.catalog.models import Event, Performer, SplitRule
from streamsvc.finance.models import BalanceTransactionRecord
from streamsvc.finance.statement import (
    RecordingStatement,
    Statement,
    recording_statement,
    statement,
)
from streamsvc.recordings.models import Recording, RightsHolder
from streamsvc.venues.models import Venue

CHART_WIDTH, LABEL_WIDTH, ROW_HEIGHT, BAR_HEIGHT = 640, 200, 26, 18
EVENTS_PER_PAGE = 25


@dataclass(frozen=True)
class Step:
    """One line of the waterfall: what it is, its amount, and its bar (pixels)."""

    key: str  # gross, refunds, …, distributable, party
    label: str  # for `party`: the party's name; else filled in by the page's words
    amount: int
    sign: str  # "+" a total, "-" taken off, "=" what is left, "part" a party's part
    x: int = 0
    y: int = 0
    width: int = 0
    bps: int = 0


def party_names(session: Session, venue_id: str, parties: Collection[tuple[str, str]]) -> dict[
    tuple[str, str], str
]:  # fmt: skip
    """Names of (type, id) parties of this venue: performers, its recordings' rights
    holders and venues by name."""
    performer_ids = [pid for kind, pid in parties if kind == "performer"]
    holder_ids = [pid for kind, pid in parties if kind == "rights_holder"]
    venue_ids = [pid for kind, pid in parties if kind == "venue"]
    names: dict[tuple[str, str], str] = {}
    if performer_ids:
        rows = session.exec(select(Performer.id, Performer.name).where(
            col(Performer.id).in_(performer_ids), Performer.venue_id == venue_id))  # fmt: skip
        names.update({("performer", pid): name for pid, name in rows})
    if holder_ids:
        rows = session.exec(select(RightsHolder.id, RightsHolder.name).where(
            col(RightsHolder.id).in_(holder_ids), RightsHolder.venue_id == venue_id))  # fmt: skip
        names.update({("rights_holder", hid): name for hid, name in rows})
    if venue_ids:
        rows = session.exec(select(Venue.id, Venue.name).where(col(Venue.id).in_(venue_ids)))
        names.update({("venue", vid): name for vid, name in rows})
    return names


def steps(found: Statement, names: dict[tuple[str, str], str]) -> list[Step]:
    """The statement as waterfall steps, in PRODUCT.md's order, with their bars."""
    lines: list[tuple[str, str, int, str, int]] = [
        ("gross", "", found.gross, "+", 0),
        ("refunds", "", found.refunds, "-", 0),
        ("disputes", "", found.disputes, "-", 0),
        ("vat", "", found.vat, "-", 0),
        # Season passes (passes/recognition.py): the event's share, net of VAT, and its
        # share of the passes' Stripe fees; lines of their own, only where there are any.
        *([("pass_revenue", "", found.pass_revenue, "+", 0)] if found.pass_revenue else []),
        ("stripe_fees", "", found.stripe_fees, "-", 0),
        *([("pass_fees", "", found.pass_fees, "-", 0)] if found.pass_fees else []),
        ("platform_fee", "", found.platform_fee, "-", 0),
        *[("cost", cost.label, cost.amount, "-", 0) for cost in found.costs],
        ("distributable", "", found.distributable, "=", 0),
        *[("party", names.get((p.party.type, p.party.id), p.party.id), p.amount, "part", p.bps)
          for p in found.parties],
    ]  # fmt: skip
    top = max(found.gross + found.pass_revenue, found.distributable, 1)
    span = CHART_WIDTH - LABEL_WIDTH

    def px(amount: int) -> int:
        return LABEL_WIDTH + max(0, min(amount, top)) * span // top

    drawn, level, parts = [], 0, 0
    for row, (key, label, amount, sign, bps) in enumerate(lines):
        if sign == "+":  # rises from the level (gross, the first line, from 0)
            start, end, level = level, level + amount, level + amount
        elif sign == "-":  # floats from the level down by the amount
            start, end, level = level - amount, level, level - amount
        elif sign == "=":
            start, end = 0, amount
        else:  # the parties share distributable, side by side
            start, end, parts = parts, parts + amount, parts + amount
        left, right = sorted((px(start), px(end)))
        width = right - left if amount else 0
        drawn.append(Step(key, label, amount, sign, left, row * ROW_HEIGHT, width, bps))
    return drawn


def chart_height(drawn: list[Step]) -> int:
    return max(1, len(drawn)) * ROW_HEIGHT


@dataclass(frozen=True)
class EventSummary:
    event: Event
    status: str
    statement: Statement


def event_summaries(
    session: Session, venue_id: str, now: datetime, *, before: datetime | None = None
) -> tuple[list[EventSummary], datetime | None]:
    """The venue's events, the latest start first, a page at a time, each with its
    statement; the start to page on from (None on the last page)."""
    query = select(Event).where(Event.venue_id == venue_id)
    if before is not None:
        query = query.where(col(Event.starts_at) < before)
    found = list(session.exec(query.order_by(col(Event.starts_at).desc(), col(Event.id))
                              .limit(EVENTS_PER_PAGE + 1)))  # fmt: skip
    more = len(found) > EVENTS_PER_PAGE
    shown = found[:EVENTS_PER_PAGE]
    summaries = [EventSummary(e, status_of(e, now).value, statement(session, e)) for e in shown]
    return summaries, (shown[-1].starts_at if more and shown else None)


@dataclass(frozen=True)
class RecordingSummary:
    recording: Recording
    statement: RecordingStatement


def recording_summaries(session: Session, venue_id: str) -> list[RecordingSummary]:
    """The venue's recordings that took money (a balance transaction collected), the
    latest recorded first, each with its statement (an archive is tens of recordings)."""
    query = select(Recording).where(
        Recording.venue_id == venue_id,
        col(Recording.id).in_(select(BalanceTransactionRecord.recording_id).where(
            col(BalanceTransactionRecord.recording_id).is_not(None))),
    ).order_by(col(Recording.recorded_on).desc(), col(Recording.id))  # fmt: skip
    return [RecordingSummary(r, recording_statement(session, r)) for r in session.exec(query)]


@dataclass(frozen=True)
class RuleVersion:
    version: int
    created_at: datetime
    by: str  # who made it, by name (a key's label for the API); "" when unknown
    platform_fee_bps: int
    costs: list[dict[str, Any]]
    shares: list[tuple[str, int]]  # (party name, bps)


def rule_versions(session: Session, event: Event) -> list[RuleVersion]:
    """The event's split-rule versions, the latest first, with who made each (from the
    audit log's `split_rule.versioned`, the record of who acted)."""
    rules = list(session.exec(select(SplitRule).where(SplitRule.event_id == event.id)
                              .order_by(col(SplitRule.version).desc())))  # fmt: skip
    actors = {
        object_id: (kind, actor)
        for object_id, kind, actor in session.exec(
            select(AuditEntry.object_id, AuditEntry.actor_kind, AuditEntry.actor_id).where(
                AuditEntry.action == "split_rule.versioned",
                AuditEntry.object_type == "split_rule",
                col(AuditEntry.object_id).in_([rule.id for rule in rules]),
            )
        )
    }
    by_kind: dict[str, set[str]] = {}
    for kind, actor in actors.values():
        by_kind.setdefault(kind, set()).add(actor)
    labels = {(kind, actor): name for kind, ids in by_kind.items() if kind in NAME_SOURCES
              for actor, name in NAME_SOURCES[kind](session, ids).items()}  # fmt: skip
    parties = {(s["party"]["type"], s["party"]["id"]) for rule in rules for s in rule.shares}
    names = party_names(session, event.venue_id, parties)
    return [
        RuleVersion(
            version=rule.version, created_at=rule.created_at,
            by=labels.get(actors.get(rule.id, ("", "")), ""),
            platform_fee_bps=rule.platform_fee_bps, costs=list(rule.costs),
            shares=[(names.get((s["party"]["type"], s["party"]["id"]), s["party"]["id"]),
                     int(s["bps"])) for s in rule.shares],
        )
        for rule in rules
    ]  # fmt: skip


@dataclass(frozen=True)
class PartyBalance:
    party_type: str
    party_id: str
    name: str
    currency: str
    payable: int  # what the venue owes the party now, from the ledger (credit balance)


_BALANCES = text("""
SELECT a.party_type, a.party_id, a.currency, coalesce(-sum(e.amount), 0) AS payable
  FROM ledger_accounts a
  LEFT JOIN ledger_entries e ON e.account_id = a.id
 WHERE a.venue_id = :venue AND a.party_type IS NOT NULL
 GROUP BY a.party_type, a.party_id, a.currency
 ORDER BY a.party_type DESC, a.party_id, a.currency
""")


def party_balances(session: Session, venue_id: str) -> list[PartyBalance]:
    """Each party's payable balance in the venue's ledger (the venues first, then rights
    holders, then performers)."""
    found = session.execute(_BALANCES, {"venue": venue_id})
    rows = [(str(kind), str(pid), str(cur), int(amount)) for kind, pid, cur, amount in found]
    names = party_names(session, venue_id, {(kind, pid) for kind, pid, _, _ in rows})
    return [PartyBalance(kind, pid, names.get((kind, pid), pid), cur, amount)
            for kind, pid, cur, amount in rows]  # fmt: skip
