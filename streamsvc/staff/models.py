"""People who work for venues, their memberships, console sessions and one-time links.

Secrets are stored as hashes only: passwords with Argon2id; session ids, recovery
codes and link tokens (random, 128 bits or more) with SHA-256, which is enough for
values nobody can guess. The TOTP secret must be readable to check a code: it is
kept in its column and never shown again after enrolment.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from streamsvc.kit.columns import timestamp

ROLES = ("admin", "finance", "door")


class Person(SQLModel, table=True):
    """Someone with a console login; one e-mail address across the installation."""

    __tablename__ = "staff_people"

    id: str = Field(primary_key=True, max_length=32)
    email: str = Field(max_length=254, unique=True)  # lower-cased
    display_name: str = Field(max_length=200)
    password_hash: str | None = Field(default=None, max_length=200)  # None: not set yet
    totp_secret: str | None = Field(default=None, max_length=64)  # base32; None: no TOTP
    totp_pending_secret: str | None = Field(default=None, max_length=64)  # while enrolling
    # The last 30-second step a code was accepted for: a code works once.
    totp_last_step: int | None = Field(default=None)
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class Membership(SQLModel, table=True):
    """A person's role at one venue (admin, finance or door, as API keys' roles)."""

    __tablename__ = "staff_memberships"
    __table_args__ = (UniqueConstraint("person_id", "venue_id"),)

    id: str = Field(primary_key=True, max_length=32)
    person_id: str = Field(foreign_key="staff_people.id", index=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    role: str = Field(max_length=16)
    created_at: datetime = timestamp()


class PlatformAdmin(SQLModel, table=True):
    """A person who runs the installation (streamsvc/platform): sees every venue, onboards
    and suspends venues. Always logs in with a second factor."""

    __tablename__ = "platform_admins"

    person_id: str = Field(primary_key=True, foreign_key="staff_people.id", max_length=32)
    created_at: datetime = timestamp()


class RecoveryCode(SQLModel, table=True):
    """One of a person's ten single-use codes for when the authenticator is lost."""

    __tablename__ = "staff_recovery_codes"

    id: str = Field(primary_key=True, max_length=32)
    person_id: str = Field(foreign_key="staff_people.id", index=True, max_length=32)
    code_hash: str = Field(max_length=64)
    used_at: datetime | None = timestamp(nullable=True)


class StaffSession(SQLModel, table=True):
    """A console login. The cookie holds a random id; the row its SHA-256."""

    __tablename__ = "staff_sessions"

    id_hash: str = Field(primary_key=True, max_length=64)
    person_id: str = Field(foreign_key="staff_people.id", index=True, max_length=32)
    # The current venue; None: a platform admin's session at no venue (streamsvc/platform).
    venue_id: str | None = Field(default=None, foreign_key="venues.id", max_length=32)
    created_at: datetime = timestamp()
    last_seen_at: datetime = timestamp()
    idle_seconds: int
    expires_at: datetime = timestamp()  # the absolute timeout
    ended_at: datetime | None = timestamp(nullable=True)


class Invitation(SQLModel, table=True):
    """A link to set a first password (72 h, once). The token is derived from the id
    with a server key (streamsvc/staff/links.py), so a worker can mail it later."""

    __tablename__ = "staff_invitations"

    id: str = Field(primary_key=True, max_length=32)
    person_id: str = Field(foreign_key="staff_people.id", index=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", max_length=32)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp()
    used_at: datetime | None = timestamp(nullable=True)


class PasswordReset(SQLModel, table=True):
    """A link to set a new password (1 h, once); its token as an invitation's."""

    __tablename__ = "staff_password_resets"

    id: str = Field(primary_key=True, max_length=32)
    person_id: str = Field(foreign_key="staff_people.id", index=True, max_length=32)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp()
    used_at: datetime | None = timestamp(nullable=True)
