"""rescheduling: an event's previous start and refund period; one notice per buyer

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for name in ("previous_starts_at", "rescheduled_at", "refund_until"):
        op.add_column("events", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "reschedule_notices",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("venue_id", sa.String(length=32), nullable=False),
        sa.Column("rescheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("previous_starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.ForeignKeyConstraint(["venue_id"], ["venues.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", "rescheduled_at", name="reschedule_notice_once"),
    )
    op.create_index("ix_reschedule_notices_event_id", "reschedule_notices", ["event_id"])
    op.create_index("ix_reschedule_notices_order_id", "reschedule_notices", ["order_id"])


def downgrade() -> None:
    op.drop_index("ix_reschedule_notices_order_id", table_name="reschedule_notices")
    op.drop_index("ix_reschedule_notices_event_id", table_name="reschedule_notices")
    op.drop_table("reschedule_notices")
    for name in ("refund_until", "rescheduled_at", "previous_starts_at"):
        op.drop_column("events", name)
