"""refunds.status holds every status Stripe sends (requires_action is 15 characters)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 20:58:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        "refunds", "status", type_=sa.String(length=32), existing_type=sa.String(length=12)
    )


def downgrade() -> None:
    # The column stays wide: narrowing it would fail on (or cut) a refund stored as
    # requires_action, and the earlier schema reads a wider column just as well.
    pass
