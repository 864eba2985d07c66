"""admissions: seat tickets checked in at the door, once each

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admissions",
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("venue_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("admitted_by", sa.String(length=32), nullable=False),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.ForeignKeyConstraint(["venue_id"], ["venues.id"]),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    op.create_index("ix_admissions_venue_id", "admissions", ["venue_id"])
    op.create_index("ix_admissions_event_id", "admissions", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_admissions_event_id", table_name="admissions")
    op.drop_index("ix_admissions_venue_id", table_name="admissions")
    op.drop_table("admissions")
