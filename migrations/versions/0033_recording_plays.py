"""recording plays: a device starting a recording, once per device and day, so that a
rights holder's statement counts every kind of access's plays

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-01 13:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recording_plays",
        sa.Column(
            "access_id",
            sa.String(length=32),
            sa.ForeignKey("recording_access.id"),
            primary_key=True,
        ),
        sa.Column("device", sa.String(length=16), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column(
            "recording_id", sa.String(length=32), sa.ForeignKey("recordings.id"), nullable=False
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_recording_plays_recording_id_started_at", "recording_plays",
                    ["recording_id", "started_at"])  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_recording_plays_recording_id_started_at", table_name="recording_plays")
    op.drop_table("recording_plays")
