"""staff accounts: people, memberships, console sessions, recovery codes, invitations and
password resets; venues.require_mfa_for_admins

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id(name: str = "id") -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.String(length=32), nullable=False)


def _person() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "person_id", sa.String(length=32), sa.ForeignKey("staff_people.id"), nullable=False
    )


def upgrade() -> None:
    op.add_column("venues", sa.Column("require_mfa_for_admins", sa.Boolean(), nullable=True))
    op.create_table(
        "staff_people",
        _id(),
        sa.Column("email", sa.String(length=254), nullable=False, unique=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("totp_pending_secret", sa.String(length=64), nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        _when("created_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "staff_memberships",
        _id(),
        _person(),
        sa.Column("venue_id", sa.String(length=32), sa.ForeignKey("venues.id"), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("person_id", "venue_id"),
    )
    op.create_index("ix_staff_memberships_person_id", "staff_memberships", ["person_id"])
    op.create_index("ix_staff_memberships_venue_id", "staff_memberships", ["venue_id"])
    op.create_table(
        "staff_recovery_codes",
        _id(),
        _person(),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        _when("used_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_staff_recovery_codes_person_id", "staff_recovery_codes", ["person_id"])
    op.create_table(
        "staff_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        _person(),
        sa.Column("venue_id", sa.String(length=32), sa.ForeignKey("venues.id"), nullable=False),
        _when("created_at"),
        _when("last_seen_at"),
        sa.Column("idle_seconds", sa.Integer(), nullable=False),
        _when("expires_at"),
        _when("ended_at", nullable=True),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_staff_sessions_person_id", "staff_sessions", ["person_id"])
    op.create_table(
        "staff_invitations",
        _id(),
        _person(),
        sa.Column("venue_id", sa.String(length=32), sa.ForeignKey("venues.id"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        _when("created_at"),
        _when("expires_at"),
        _when("used_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_staff_invitations_person_id", "staff_invitations", ["person_id"])
    op.create_table(
        "staff_password_resets",
        _id(),
        _person(),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        _when("created_at"),
        _when("expires_at"),
        _when("used_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_staff_password_resets_person_id", "staff_password_resets", ["person_id"])


def downgrade() -> None:
    for table in ("staff_password_resets", "staff_invitations", "staff_sessions",
                  "staff_recovery_codes", "staff_memberships", "staff_people"):  # fmt: skip
        op.drop_table(table)
    op.drop_column("venues", "require_mfa_for_admins")
