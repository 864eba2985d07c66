"""season pass money moved outside our refund path: refunds made in Stripe's dashboard, lost disputes, failed refunds

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-01 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable without a default: added without rewriting the table.
    op.add_column("pass_shares", sa.Column("failed_refund_id", sa.String(length=32), nullable=True))
    op.create_foreign_key(
        "pass_shares_failed_refund_id_fkey", "pass_shares", "refunds", ["failed_refund_id"], ["id"]
    )
    op.create_table(
        "pass_share_returns",
        sa.Column(
            "holding_id", sa.String(length=32), sa.ForeignKey("pass_holdings.id"), primary_key=True
        ),
        sa.Column("event_id", sa.String(length=32), sa.ForeignKey("events.id"), primary_key=True),
        sa.Column("source_id", sa.String(length=255), primary_key=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("net", sa.Integer(), nullable=False),
        sa.Column("vat", sa.Integer(), nullable=False),
        sa.Column("fee", sa.Integer(), nullable=False),
        sa.Column("emptied", sa.Boolean(), nullable=False),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "net >= 0 AND vat >= 0 AND fee >= 0", name="pass_share_return_not_negative"
        ),
        sa.CheckConstraint("source IN ('refund', 'dispute')", name="pass_share_return_source"),
    )


def downgrade() -> None:
    # The ledger's postings of these changes name them only by reference and stay.
    op.drop_table("pass_share_returns")
    op.drop_constraint("pass_shares_failed_refund_id_fkey", "pass_shares", type_="foreignkey")
    op.drop_column("pass_shares", "failed_refund_id")
