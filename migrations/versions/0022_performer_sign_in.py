"""performers' sign-in links and sessions (/me)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "performer_sign_in_links",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        _when("created_at"),
        _when("expires_at"),
        _when("used_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_performer_sign_in_links_email", "performer_sign_in_links", ["email"])
    op.create_table(
        "performer_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        _when("created_at"),
        _when("last_seen_at"),
        sa.Column("idle_seconds", sa.Integer(), nullable=False),
        _when("expires_at"),
        _when("ended_at", nullable=True),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_performer_sessions_email", "performer_sessions", ["email"])


def downgrade() -> None:
    op.drop_table("performer_sessions")
    op.drop_table("performer_sign_in_links")
