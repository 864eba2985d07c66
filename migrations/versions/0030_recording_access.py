"""recording access: orders of a recording's offer, and what each grants the buyer
(a rental's window kept in PostgreSQL)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-01 10:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(name: str, target: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.String(length=32), sa.ForeignKey(target), nullable=nullable)


def upgrade() -> None:
    op.add_column("orders", sa.Column("recording_id", sa.String(length=32), nullable=True))
    op.add_column("orders", sa.Column("recording_offer_id", sa.String(length=32), nullable=True))
    op.create_index("ix_orders_recording_id", "orders", ["recording_id"])
    op.create_table(
        "recording_access",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("code", sa.String(length=40), nullable=False, unique=True),
        _fk("recording_id", "recordings.id"),
        _fk("offer_id", "recording_offers.id"),
        _fk("order_id", "orders.id"),
        _fk("venue_id", "venues.id"),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        _ts("start_by", True),
        sa.Column("watch_hours", sa.Integer(), nullable=True),
        _ts("started_at", True),
        _ts("ends_at", True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.UniqueConstraint("order_id"),
        sa.CheckConstraint(
            "(kind = 'rental') = (start_by IS NOT NULL AND watch_hours IS NOT NULL)",
            name="recording_access_rental_terms",
        ),
        sa.CheckConstraint("watch_hours IS NULL OR watch_hours > 0", name="recording_access_hours"),
        sa.CheckConstraint(
            "(started_at IS NULL) = (ends_at IS NULL)"
            " AND (ends_at IS NULL OR ends_at > started_at)",
            name="recording_access_window",
        ),
    )
    op.create_index("ix_recording_access_recording_id", "recording_access", ["recording_id"])
    op.create_index("ix_recording_access_venue_id", "recording_access", ["venue_id"])


def downgrade() -> None:
    op.drop_table("recording_access")
    op.drop_index("ix_orders_recording_id", table_name="orders")
    op.drop_column("orders", "recording_offer_id")
    op.drop_column("orders", "recording_id")
