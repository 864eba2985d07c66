"""the sector's listings: each event's UiTdatabank event type, each venue's UiTdatabank
place, and what UiTdatabank last received of each event (listing_pushes)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns without a default: added without rewriting the tables.
    op.add_column("events", sa.Column("uitdatabank_type", sa.String(length=20), nullable=True))
    op.add_column("venues", sa.Column("uitdatabank_place_id", sa.String(length=36), nullable=True))
    op.create_table(
        "listing_pushes",
        sa.Column("event_id", sa.String(length=32), sa.ForeignKey("events.id"), nullable=False),
        sa.Column("uitdatabank_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("pushed_digest", sa.String(length=64), nullable=True),
        sa.Column("pushed_status", sa.String(length=32), nullable=True),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
        sa.CheckConstraint("state IN ('pending', 'sent', 'failed')", name="listing_push_state"),
    )


def downgrade() -> None:
    op.drop_table("listing_pushes")
    op.drop_column("venues", "uitdatabank_place_id")
    op.drop_column("events", "uitdatabank_type")
