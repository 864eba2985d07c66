"""Column helpers shared by every domain's SQLModel tables."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Column, DateTime, Dialect, String, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

E = TypeVar("E", bound=StrEnum)


def timestamp(*, nullable: bool = False, index: bool = False) -> Any:
    """A timezone-aware timestamp column (SQLModel's default drops the zone)."""
    return Field(
        default=None if nullable else ...,
        sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index),
    )


def jsonb(*, default: Any = ...) -> Any:
    return Field(default=default, sa_column=Column(JSONB, nullable=False))


class StrEnumString(TypeDecorator[E]):
    """A StrEnum stored as a plain VARCHAR(length), never as an SQL ENUM type.

    Adding a status then needs no migration, and the schema stays what it was. Rows
    read back as members (so `is` and `.value` work), and a value that is not one
    fails at the write that would store it, not later.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum
        self.length = length  # part of the statement cache key

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


def enum_string(
    enum: type[StrEnum], length: int, *, nullable: bool = False, index: bool = False
) -> Any:
    """A status column: `enum` in Python, VARCHAR(length) in the database."""
    return Field(
        default=None if nullable else ...,
        sa_column=Column(StrEnumString(enum, length), nullable=nullable, index=index),
    )
