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
