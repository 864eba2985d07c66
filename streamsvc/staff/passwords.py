"""Staff passwords: Argon2id hashes (argon2-cffi), a minimum length and no common ones.

A login for an account that does not exist (or has no password yet) is verified
against a dummy hash, so it takes as long as a wrong password does.
"""

from __future__ import annotations

import functools
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from streamsvc.errors import ValidationFailed

COMMON_PASSWORDS = Path(__file__).with_name("common-passwords.txt")
MAX_LENGTH = 256  # Argon2 takes any length; a bound keeps a request's work bounded


@functools.cache
def hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2-cffi's defaults: Argon2id, RFC 9106 low-memory profile


@functools.cache
def _dummy_hash() -> str:
    return hasher().hash("streamsvc: no such account")


@functools.cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches; with no hash, as slow as a mismatch and False."""
    try:
        return hasher().verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def check_policy(password: str, min_length: int, *, field: str = "password") -> None:
    """422 naming `field` when the password is too short, too long or common."""
    if len(password) < min_length:
        raise ValidationFailed(
            "The password is too short.",
            code="password_too_short",
            fields={field: f"at least {min_length} characters"},
        )
    if len(password) > MAX_LENGTH:
        raise ValidationFailed(
            "The password is too long.",
            code="password_too_long",
            fields={field: f"at most {MAX_LENGTH} characters"},
        )
    if password.strip().lower() in common_passwords():
        raise ValidationFailed(
            "This password is one of the most common ones; choose another.",
            code="password_common",
            fields={field: "one of the most common passwords"},
        )
