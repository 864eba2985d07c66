"""Performers' sign-in links and sessions (`/me`).

A person here is an e-mail address: performers are rows per venue, and one person
who performs for several venues signs in once and sees every venue's rows that carry
the address. Secrets are stored as SHA-256 hashes only: the link's token (derived
from the row's id with a server key, so the worker can mail it later; signin.py) and
the session id (random, in an HttpOnly cookie).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from streamsvc.kit.columns import timestamp


class PerformerSignInLink(SQLModel, table=True):
    """A mailed sign-in link: works once, for STREAMSVC_PERFORMER_LINK_MINUTES."""

    __tablename__ = "performer_sign_in_links"

    id: str = Field(primary_key=True, max_length=32)
    email: str = Field(max_length=254, index=True)  # lower-cased
    token_hash: str = Field(max_length=64, unique=True)
    language: str = Field(max_length=2)  # of the page it was asked from: the mail's
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp()
    used_at: datetime | None = timestamp(nullable=True)


class PerformerSession(SQLModel, table=True):
    """A performer's session on `/me`. The cookie holds a random id; the row its hash."""

    __tablename__ = "performer_sessions"

    id_hash: str = Field(primary_key=True, max_length=64)
    email: str = Field(max_length=254, index=True)  # lower-cased: the person
    created_at: datetime = timestamp()
    last_seen_at: datetime = timestamp()
    idle_seconds: int
    expires_at: datetime = timestamp()  # the absolute timeout
    ended_at: datetime | None = timestamp(nullable=True)
