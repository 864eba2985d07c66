"""Request and response shapes of venues and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from streamsvc.kit.described import COUNTRY, CURRENCY, id_of, when
from streamsvc.kit.money import Currency
from streamsvc.kit.validation import Country, Name, Timezone, WriteModel
from streamsvc.venues.models import ApiKey, Venue

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")]
Role = Literal["admin", "finance"]


VENUE_NAME = "The venue's name, as buyers and statements see it."
SLUG = "Short, unique, URL-safe name of the venue (`de-nederlandse-opera`)."
VENUE_CURRENCY = CURRENCY + " What the venue's events sell in unless an event says otherwise."
VENUE_TIMEZONE = "IANA timezone of the venue (Europe/Amsterdam): exports' days are its days."


class VenueCreate(WriteModel):
    name: Name = Field(description=VENUE_NAME)
    slug: Slug | None = Field(default=None, description=SLUG + " Derived from the name if omitted.")
    country: Country = Field(description=COUNTRY)
    currency: Currency = Field(description=VENUE_CURRENCY)
    timezone: Timezone = Field(description=VENUE_TIMEZONE)


class VenuePublic(BaseModel):
    id: str = Field(description=id_of("the venue", "ven"))
    name: str = Field(description=VENUE_NAME)
    slug: str = Field(description=SLUG)
    country: str = Field(description=COUNTRY)
    currency: str = Field(description=VENUE_CURRENCY)
    timezone: str = Field(description=VENUE_TIMEZONE)
    created_at: datetime = Field(description=when("When the venue was created"))

    @classmethod
    def of(cls, venue: Venue) -> VenuePublic:
        return cls.model_validate(venue, from_attributes=True)


ROLE = "`admin` (everything of the venue) or `finance` (reads, and the finance routes)."
LABEL = "Who or what uses the key, to recognise it in the list."


class ApiKeyCreate(WriteModel):
    role: Role = Field(description=ROLE)
    label: Name = Field(description=LABEL)


class ApiKeyPublic(BaseModel):
    id: str = Field(description=id_of("the key (to revoke it)", "key"))
    role: Role = Field(description=ROLE)
    label: str = Field(description=LABEL)
    prefix: str = Field(description="The key's first characters (`ssk_…`), to recognise it.")
    created_at: datetime = Field(description=when("When the key was made"))
    last_used_at: datetime | None = Field(description=when("When it was last used; null: never"))

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyPublic:
        return cls(
            id=key.id,
            role=key.role,
            label=key.label,
            prefix=f"ssk_{key.lookup}",
            created_at=key.created_at,
            last_used_at=key.last_used_at,
        )


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(
        description="The secret key (`ssk_…`), sent as `Authorization: Bearer`. Shown this "
        "once; only its hash is kept."
    )


class ApiKeyList(BaseModel):
    data: list[ApiKeyPublic] = Field(description="The venue's keys that are not revoked.")


class VenueCreated(BaseModel):
    venue: VenuePublic = Field(description="The venue made.")
    api_key: ApiKeyCreated = Field(description="Its first admin key.")
