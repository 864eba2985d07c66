"""Reusable, bounded input types for request schemas."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated
from zoneinfo import available_timezones

import pycountry
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
)

_TIMEZONES = frozenset(available_timezones())
_COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries)


def _timezone(value: str) -> str:
    if value not in _TIMEZONES:
        raise ValueError("not an IANA timezone (e.g. Europe/Amsterdam)")
    return value


def _country(value: str) -> str:
    if value not in _COUNTRIES:
        raise ValueError("not an ISO 3166-1 alpha-2 country code (upper case, e.g. NL)")
    return value


def _utc(value: datetime) -> datetime:
    if value.year < 2000 or value.year > 2200:
        raise ValueError("must be between the years 2000 and 2200")
    return value


def _day(value: date) -> date:
    # A day far out overflows the arithmetic that turns it into a period's end.
    if value.year < 2000 or value.year > 2200:
        raise ValueError("must be between the years 2000 and 2200")
    return value


def _printable(value: str) -> str:
    # Control characters (ESC, newline...) and format characters (bidirectional
    # overrides such as RLO, zero-width joiners and spaces) make a name display as
    # something else than it is: in a statement, a mail subject, a ticket.
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise ValueError(
                f"may not contain control, format or unassigned characters (U+{ord(char):04X})"
            )
    return value


Timezone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_timezone)]
Country = Annotated[str, StringConstraints(min_length=2, max_length=2), AfterValidator(_country)]
Timestamp = Annotated[AwareDatetime, AfterValidator(_utc)]
Day = Annotated[date, AfterValidator(_day)]
# Names and titles: what people read in lists, statements and mails.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_printable),
]
Text = Annotated[str, StringConstraints(max_length=10_000)]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=254, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
    ),
]
# Money and counts are JSON integers: no "15.00" (read as 15 cents), no 15.0, no true.
Bps = Annotated[StrictInt, Field(ge=0, le=10_000)]


class WriteModel(BaseModel):
    """Base of every request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_max_length=10_000)


def mask_email(address: str) -> str:
    """`jane@example.org` -> `j***@example.org`: enough to recognise, not to copy."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"
