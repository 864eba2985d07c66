"""Venues (the tenants) and their staff API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from streamsvc.kit.columns import timestamp


class Venue(SQLModel, table=True):
    __tablename__ = "venues"

    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    slug: str = Field(max_length=80, unique=True)
    country: str = Field(max_length=2)
    currency: str = Field(max_length=3)
    timezone: str = Field(max_length=64)
    created_at: datetime = timestamp()
    # Whether the venue's admins must log in to the console with a one-time code.
    # None: the installation's default (required in production, streamsvc/staff).
    require_mfa_for_admins: bool | None = Field(default=None, nullable=True)
    # Origins (https://www.venue.example) whose pages may frame this venue's event
    # pages: the CSP frame-ancestors of those pages (listings/pages.py).
    embed_origins: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    )
    # The venue's VAT identification number (NL123456789B01), printed on buyers'
    # receipts; None: not given (the receipt then shows none).
    vat_number: str | None = Field(default=None, max_length=20, nullable=True)
    # The venue's place in UiTdatabank (a UUID): where its hybrid events are listed as
    # taking place (listings/uitdatabank); None: not set.
    uitdatabank_place_id: str | None = Field(default=None, max_length=36, nullable=True)
    # The city the venue is in, as the catalogue's filter offers it; None: not given.
    city: str | None = Field(default=None, max_length=100, nullable=True)
    # Set by the platform operator (streamsvc/platform): its events leave the catalogue
    # and cannot be bought, its keys and console sessions stop working; tickets bought
    # before still play. None: the venue is open.
    suspended_at: datetime | None = timestamp(nullable=True)


class ApiKey(SQLModel, table=True):
    """A staff key. Only the SHA-256 of the key is stored; the key is shown once."""

    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    role: str = Field(max_length=16)  # admin | finance
    label: str = Field(max_length=200)
    lookup: str = Field(max_length=16, unique=True)  # the key's public part, for lookup
    secret_hash: str = Field(max_length=64)
    created_at: datetime = timestamp()
    last_used_at: datetime | None = timestamp(nullable=True)
    revoked_at: datetime | None = timestamp(nullable=True)
