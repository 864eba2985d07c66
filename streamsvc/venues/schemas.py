"""Request and response shapes of venues and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, StringConstraints

from streamsvc.kit.money import Currency
from streamsvc.kit.validation import Country, Name, Timezone, WriteModel
from streamsvc.venues.models import ApiKey, Venue

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")]
Role = Literal["admin", "finance"]


class VenueCreate(WriteModel):
    name: Name
    slug: Slug | None = None  # derived from the name when omitted
    country: Country
    currency: Currency
    timezone: Timezone


class VenuePublic(BaseModel):
    id: str
    name: str
    slug: str
    country: str
    currency: str
    timezone: str
    created_at: datetime

    @classmethod
    def of(cls, venue: Venue) -> VenuePublic:
        return cls.model_validate(venue, from_attributes=True)


class ApiKeyCreate(WriteModel):
    role: Role
    label: Name


class ApiKeyPublic(BaseModel):
    id: str
    role: Role
    label: str
    prefix: str  # the key's first characters, to recognise it
    created_at: datetime
    last_used_at: datetime | None

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
    key: str  # shown this once; only its hash is kept


class ApiKeyList(BaseModel):
    data: list[ApiKeyPublic]


class VenueCreated(BaseModel):
    venue: VenuePublic
    api_key: ApiKeyCreated
