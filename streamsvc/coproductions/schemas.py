"""Request and response shapes of co-productions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt, StringConstraints

from streamsvc.catalog.coproducers import CoProduction
from streamsvc.catalog.models import Event
from streamsvc.catalog.schemas import SplitRulePublic
from streamsvc.kit.described import id_of, when
from streamsvc.kit.validation import WriteModel

VenueId = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Status = Literal["invited", "accepted", "declined"]


class CoProducerInvite(WriteModel):
    venue_id: VenueId = Field(description=id_of("the venue invited to co-produce", "ven"))


class ConsentWrite(WriteModel):
    version: Annotated[StrictInt, Field(ge=2, le=1_000_000)] = Field(
        description="The split-rule version consented to (the one waiting, as read)."
    )


class CoProductionPublic(BaseModel):
    id: str = Field(description=id_of("the co-production", "cop"))
    event_id: str = Field(description=id_of("the event", "evt"))
    lead_venue_id: str = Field(description=id_of("the venue that owns the event", "ven"))
    partner_venue_id: str = Field(description=id_of("the co-producing venue", "ven"))
    status: Status = Field(description="`invited`, then `accepted` or `declined`.")
    invited_at: datetime = Field(description=when("When the invitation was sent"))
    decided_at: datetime | None = Field(description=when("When the partner answered"))


class CoProductionList(BaseModel):
    data: list[CoProductionPublic] = Field(description="Newest invitation first.")


class CoProducedEvent(BaseModel):
    """The event as a co-producer reads it: what it co-produces, nothing of the lead
    venue's own settings."""

    co_production: CoProductionPublic = Field(description="The co-production.")
    title: str = Field(description="The event's title.")
    starts_at: datetime = Field(description=when("When it starts"))
    ends_at: datetime = Field(description=when("When it ends"))
    timezone: str = Field(description="The event's IANA timezone.")
    currency: str = Field(description="ISO 4217 code of the event's money.")
    split_rule: SplitRulePublic | None = Field(
        description="The split rule in force (null: none yet)."
    )
    waiting_rule: SplitRulePublic | None = Field(
        description="A newer version waiting for consents; the rule in force governs until "
        "every co-producer named in `waiting_for` consented."
    )
    waiting_for: list[str] = Field(description="Venues whose consent the newer version awaits.")


def public(row: CoProduction) -> CoProductionPublic:
    return CoProductionPublic(
        id=row.id, event_id=row.event_id, lead_venue_id=row.lead_venue_id,
        partner_venue_id=row.partner_venue_id, status=row.status,
        invited_at=row.invited_at, decided_at=row.decided_at,
    )  # fmt: skip


def event_view(
    row: CoProduction, event: Event, rule: SplitRulePublic | None,
    waiting: SplitRulePublic | None, waiting_for: list[str],
) -> CoProducedEvent:  # fmt: skip
    return CoProducedEvent(
        co_production=public(row), title=event.title, starts_at=event.starts_at,
        ends_at=event.ends_at, timezone=event.timezone, currency=event.currency,
        split_rule=rule, waiting_rule=waiting, waiting_for=waiting_for,
    )  # fmt: skip
