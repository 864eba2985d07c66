"""stripe payouts: a Stripe payout as reconciliation found it in Stripe's list of
payouts (so that a payout whose webhook never came is still posted), and the status
whose postings are complete

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-01 16:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stripe_payouts",
        sa.Column("id", sa.String(length=255), primary_key=True),
        sa.Column("listed", postgresql.JSONB(), nullable=True),
        sa.Column("listed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_status", sa.String(length=20), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("stripe_payouts")
