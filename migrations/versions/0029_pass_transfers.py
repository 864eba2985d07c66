"""season pass transfers: one row per hand-over of a pass to another person

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-01 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "pass_transfers",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column(
            "holding_id", sa.String(length=32), sa.ForeignKey("pass_holdings.id"), nullable=False
        ),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("previous_email", sa.String(length=254), nullable=True),
        sa.Column("previous_locale", sa.String(length=2), nullable=False),
        sa.Column("new_locale", sa.String(length=2), nullable=False),
        sa.Column("tickets_moved", sa.Integer(), nullable=False),
        _ts("pass_mailed_at", True),
        _ts("notice_mailed_at", True),
        _ts("created_at"),
        sa.UniqueConstraint("holding_id", "sequence", name="pass_transfer_once"),
        sa.CheckConstraint("sequence >= 1", name="pass_transfer_sequence_positive"),
    )
    op.create_index("ix_pass_transfers_holding_id", "pass_transfers", ["holding_id"])


def downgrade() -> None:
    op.drop_table("pass_transfers")
