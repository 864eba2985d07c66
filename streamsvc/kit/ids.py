"""Opaque, prefixed identifiers: `evt_4k2m…`. The prefix names the type."""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def random_token(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str) -> str:
    """A new id: the type prefix and 20 random base32 characters (100 bits)."""
    return f"{prefix}_{random_token(20)}"
