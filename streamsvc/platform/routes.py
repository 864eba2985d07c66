"""The platform operator's key (`STREAMSVC_PLATFORM_KEY`) on the JSON API: suspend and
resume a venue, the platform's statement of its fees, and the operator's reconciliation
findings (of no venue). The same use cases as the platform console (service.py,
statement.py, finance/findings.py); suspending and resuming are audit-logged in the
venue's log."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field
from starlette.routing import Route

from streamsvc.finance.findings import operator_findings
from streamsvc.finance.schemas import FindingList
from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.kit.described import id_of, when
from streamsvc.platform import service, statement
from streamsvc.platform.statement import Period
from streamsvc.venues.models import Venue

TAGS = ("platform",)


class VenueState(BaseModel):
    id: str = Field(description=id_of("the venue", "ven"))
    name: str = Field(description="The venue's name.")
    city: str | None = Field(description="The venue's city; null: not given.")
    suspended_at: datetime | None = Field(
        description=when("When the platform suspended the venue; null: it is open")
    )

    @classmethod
    def of(cls, venue: Venue) -> VenueState:
        return cls(id=venue.id, name=venue.name, city=venue.city, suspended_at=venue.suspended_at)


class FeeLine(BaseModel):
    venue_id: str = Field(description=id_of("the venue", "ven"))
    venue_name: str = Field(description="The venue's name.")
    event_id: str | None = Field(description="The event; null: fees posted to no event.")
    event_title: str = Field(description="The event's title.")
    currency: str = Field(description="ISO 4217 code of the amount.")
    amount: int = Field(description="Platform fees in minor units, as the ledger holds them.")


class FeeStatement(BaseModel):
    first_day: date = Field(description="The period's first day (UTC), included.")
    last_day: date = Field(description="The period's last day (UTC), included.")
    data: list[FeeLine] = Field(description="Per venue and event, by venue name.")
    totals: dict[str, int] = Field(description="The fees by currency, in minor units.")


@endpoint(
    summary="Suspend a venue: its events leave the catalogue, its keys and console "
    "sessions stop; tickets bought play on",
    tags=TAGS, access=Access.platform, response=VenueState, errors=(404, 409),
)  # fmt: skip
def suspend_venue(call: Call) -> VenueState:
    return VenueState.of(service.suspend(call.session, call.path("venue_id"), call.clock.now()))


@endpoint(
    summary="Resume a suspended venue",
    tags=TAGS, access=Access.platform, response=VenueState, errors=(404, 409),
)  # fmt: skip
def resume_venue(call: Call) -> VenueState:
    return VenueState.of(service.resume(call.session, call.path("venue_id"), call.clock.now()))


@endpoint(
    summary="The platform's fees per venue and event, posted in a period (from the ledger)",
    tags=TAGS, access=Access.platform, query=Period, response=FeeStatement,
)  # fmt: skip
def platform_fees(call: Call, query: Period) -> FeeStatement:
    lines = statement.fee_statement(call.session, query.in_zone(call.settings.platform_timezone))
    return FeeStatement(
        first_day=query.from_,
        last_day=query.to,
        data=[FeeLine(**line.__dict__) for line in lines],
        totals=statement.totals(lines),
    )


@endpoint(
    summary="The operator's reconciliation findings, of no venue (a Stripe payout whose "
    "amount is not the sum of its balance transactions, or that pays out none of ours)",
    tags=TAGS, access=Access.platform, response=FindingList,
)  # fmt: skip
def platform_findings(call: Call) -> FindingList:
    return operator_findings(call.session)


routes = [
    Route("/v1/venues/{venue_id}/suspend", suspend_venue, methods=["POST"]),
    Route("/v1/venues/{venue_id}/resume", resume_venue, methods=["POST"]),
    Route("/v1/platform/fees", platform_fees, methods=["GET"]),
    Route("/v1/platform/findings", platform_findings, methods=["GET"]),
]
