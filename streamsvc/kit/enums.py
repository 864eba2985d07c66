"""Status enums whose values come partly from a provider that may add new ones."""

from __future__ import annotations

from enum import StrEnum


class OpenStrEnum(StrEnum):
    """A StrEnum that keeps a value it does not list instead of raising.

    For statuses Stripe owns (refunds, disputes): Stripe adds statuses without
    warning, and a webhook carrying a new one must still be recorded, not crash the
    worker or make the row unreadable. An unlisted value becomes an instance of the
    enum that is not one of its members (like a Flag's pseudo-member): it compares,
    hashes and serialises as its raw string, is stored as it came, and matches no
    member, so code that asks "is it final / active?" treats it as neither.
    """

    @classmethod
    def _missing_(cls, value: object) -> OpenStrEnum | None:
        if not isinstance(value, str):
            return None
        unknown = str.__new__(cls, value)
        unknown._name_ = value
        unknown._value_ = value
        return unknown
