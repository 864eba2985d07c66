"""bundles and receipts: tier components with their own VAT rates (snapshotted on order
items), the VAT per rate of each split posting, and the venue's VAT number

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 05:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _jsonb(name: str, default: str) -> sa.Column[Any]:
    return sa.Column(
        name,
        postgresql.JSONB(astext_type=sa.Text()),
        nullable=False,
        server_default=sa.text(f"'{default}'::jsonb"),
    )


def upgrade() -> None:
    # Constant defaults: PostgreSQL adds these columns without rewriting the tables.
    op.add_column("tiers", _jsonb("components", "[]"))
    op.add_column("order_items", _jsonb("components", "[]"))
    op.add_column("split_postings", _jsonb("vat_rates", "{}"))
    op.add_column("venues", sa.Column("vat_number", sa.String(length=20), nullable=True))


def downgrade() -> None:
    op.drop_column("venues", "vat_number")
    op.drop_column("split_postings", "vat_rates")
    op.drop_column("order_items", "components")
    op.drop_column("tiers", "components")
