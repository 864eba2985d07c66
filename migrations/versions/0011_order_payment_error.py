"""orders.payment_error: why the last attempt to pay failed (the order stays pending)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("payment_error", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("orders", "payment_error")
