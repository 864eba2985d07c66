"""Column helpers shared by every domain's SQLModel tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field


def timestamp(*, nullable: bool = False, index: bool = False) -> Any:
    """A timezone-aware timestamp column (SQLModel's default drops the zone)."""
    return Field(
        default=None if nullable else ...,
        sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index),
    )


def jsonb(*, default: Any = ...) -> Any:
    return Field(default=default, sa_column=Column(JSONB, nullable=False))
