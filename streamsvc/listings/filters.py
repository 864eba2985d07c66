"""The catalogue's filters: venue, city, dates and attendance mode, for the JSON
catalogue (`GET /v1/public/events?venue=&city=&from=&to=&mode=`) and the page `/`.

Dates are the events' local dates (in each event's own timezone), `from` and `to`
both included: "what is on the 14th" means the 14th where it plays.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator
from sqlalchemy import Date, cast, func
from sqlmodel import col

from streamsvc.catalog.models import Event
from streamsvc.errors import ValidationFailed
from streamsvc.kit.pagination import PageQuery
from streamsvc.venues.models import Venue

# The widest date range one may ask for: a bound on what one query reads.
MAX_RANGE = timedelta(days=3 * 366)
VenueId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
City = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class CatalogueFilter(BaseModel):
    """What a visitor narrows the catalogue to; every field optional."""

    model_config = {"extra": "forbid", "populate_by_name": True}

    venue: VenueId | None = Field(default=None, description="Only this venue's events (its id).")
    city: City | None = Field(
        default=None, description="Only events of venues in this city (as the venue gives it)."
    )
    from_: date | None = Field(
        default=None,
        alias="from",
        description="Only events starting on or after this day "
        "(YYYY-MM-DD, the event's local date).",
    )
    to: date | None = Field(
        default=None, description="Only events starting on or before this day (YYYY-MM-DD)."
    )
    mode: Literal["online", "hybrid"] | None = Field(
        default=None, description="`online` (streamed only) or `hybrid` (in the venue too)."
    )

    @model_validator(mode="after")
    def _range(self) -> CatalogueFilter:
        if self.from_ is not None and self.to is not None:
            if self.to < self.from_:
                raise ValidationFailed(
                    "`to` is before `from`.", fields={"query.to": "on or after from"}
                )
            if self.to - self.from_ > MAX_RANGE:
                raise ValidationFailed(
                    "The date range is too long.", fields={"query.to": "at most three years"}
                )
        return self

    @property
    def empty(self) -> bool:
        return not any((self.venue, self.city, self.from_, self.to, self.mode))

    def key(self) -> tuple[str, ...]:
        """The filter as a cache key's part."""
        return (
            self.venue or "",
            (self.city or "").lower(),
            str(self.from_ or ""),
            str(self.to or ""),
            self.mode or "",
        )

    def apply(self, query: Any) -> Any:
        """`query` (a select of Event joined with Venue) narrowed to this filter."""
        if self.venue:
            query = query.where(col(Event.venue_id) == self.venue)
        if self.city:
            query = query.where(func.lower(col(Venue.city)) == self.city.lower())
        if self.mode:
            query = query.where(col(Event.attendance_mode) == self.mode)
        if self.from_ or self.to:
            local_day = cast(func.timezone(col(Event.timezone), col(Event.starts_at)), Date)
            if self.from_:
                query = query.where(local_day >= self.from_)
            if self.to:
                query = query.where(local_day <= self.to)
        return query


class CatalogueQuery(PageQuery, CatalogueFilter):
    """A page of the JSON catalogue, filtered."""

    model_config = {"extra": "forbid", "populate_by_name": True}

    def filter(self) -> CatalogueFilter:
        return CatalogueFilter.model_validate(
            self.model_dump(include={"venue", "city", "from_", "to", "mode"})
        )
