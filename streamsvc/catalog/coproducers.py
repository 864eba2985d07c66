"""Co-producers of an event, and their consent to its split rule's versions.

The tables live in the catalog because the split rule needs them (a venue party other
than the lead must be an accepted co-producer; a new version waits for their consent)
and the catalog may not import streamsvc/coproductions, which builds on the catalog
and finance (invitations, pages, statements).

A version of the split rule is IN FORCE when none of its consents is still pending or
was superseded: version 1, and any version made while no co-producer had accepted,
needs none. Orders are sold under the latest version in force, and the splits read
costs and guarantees from it, so until every co-producer consents the previous
version keeps governing the money.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, UniqueConstraint, exists, func
from sqlmodel import Field, Session, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from streamsvc.catalog.models import SplitRule
from streamsvc.kit.columns import timestamp
from streamsvc.venues.models import Venue


class CoProductionStatus(StrEnum):
    invited = "invited"
    accepted = "accepted"
    declined = "declined"


class CoProduction(SQLModel, table=True):
    """One venue invited by an event's lead venue to co-produce it."""

    __tablename__ = "co_productions"
    __table_args__ = (
        UniqueConstraint("event_id", "partner_venue_id", name="co_production_once"),
        CheckConstraint("status IN ('invited', 'accepted', 'declined')",
                        name="co_production_status"),
        CheckConstraint("partner_venue_id <> lead_venue_id", name="co_production_other_venue"),
    )  # fmt: skip

    id: str = Field(primary_key=True, max_length=32)
    event_id: str = Field(foreign_key="events.id", index=True, max_length=32)
    lead_venue_id: str = Field(foreign_key="venues.id", max_length=32)
    partner_venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    status: str = Field(max_length=16)
    invited_by: str = Field(max_length=64)  # the actor's id, as the audit log has it
    invited_at: datetime = timestamp()
    decided_by: str | None = Field(default=None, max_length=64, nullable=True)
    decided_at: datetime | None = timestamp(nullable=True)


class ConsentState(StrEnum):
    pending = "pending"
    given = "given"
    superseded = "superseded"  # a later version was made before this one was consented


class SplitRuleConsent(SQLModel, table=True):
    """An accepted co-producer's consent to one version of the event's split rule."""

    __tablename__ = "split_rule_consents"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'given', 'superseded')",
                        name="split_rule_consent_state"),
    )  # fmt: skip

    rule_id: str = Field(primary_key=True, foreign_key="split_rules.id", max_length=32)
    partner_venue_id: str = Field(primary_key=True, foreign_key="venues.id", max_length=32)
    event_id: str = Field(foreign_key="events.id", index=True, max_length=32)
    state: str = Field(max_length=16)
    requested_at: datetime = timestamp()
    decided_by: str | None = Field(default=None, max_length=64, nullable=True)
    decided_at: datetime | None = timestamp(nullable=True)


def accepted_partners(session: Session, event_id: str) -> list[str]:
    """The venues that accepted to co-produce the event, by id."""
    return list(session.exec(select(CoProduction.partner_venue_id).where(
        CoProduction.event_id == event_id, CoProduction.status == CoProductionStatus.accepted,
    ).order_by(col(CoProduction.partner_venue_id))))  # fmt: skip


def _unconsented() -> object:
    return exists().where(
        col(SplitRuleConsent.rule_id) == col(SplitRule.id),
        col(SplitRuleConsent.state) != ConsentState.given,
    )


def version_in_force(session: Session, event_id: str) -> int | None:
    """The latest version of the event's split rule in force (module docstring)."""
    return session.exec(version_in_force_query(event_id)).one()


def version_in_force_query(event_id: str) -> SelectOfScalar[int]:
    """`version_in_force` as a query, for a caller that reads it as a column of its
    own query (orders/buying.py: one round trip for everything an order reads)."""
    return select(func.max(SplitRule.version)).where(
        SplitRule.event_id == event_id,
        ~_unconsented(),  # type: ignore[operator]
    )


def rules_in_force(session: Session, event_id: str) -> list[SplitRule]:
    """Every version of the event's split rule that is in force, in version order."""
    return list(session.exec(
        select(SplitRule).where(SplitRule.event_id == event_id,
                                ~_unconsented())  # type: ignore[operator]
        .order_by(col(SplitRule.version))
    ))  # fmt: skip


def pending_consents(session: Session, rule_id: str) -> list[SplitRuleConsent]:
    return list(session.exec(select(SplitRuleConsent).where(
        SplitRuleConsent.rule_id == rule_id, SplitRuleConsent.state == ConsentState.pending,
    ).order_by(col(SplitRuleConsent.partner_venue_id))))  # fmt: skip


def named_co_producers(session: Session, event_id: str) -> list[tuple[CoProduction, str]]:
    """The event's co-productions with the partner venue's name, in the order invited
    (for the lead venue's event page)."""
    found = session.exec(
        select(CoProduction, Venue.name)
        .join(Venue, col(Venue.id) == CoProduction.partner_venue_id)
        .where(CoProduction.event_id == event_id)
        .order_by(col(CoProduction.invited_at), col(CoProduction.id))
    )
    return [(row, str(name)) for row, name in found]
