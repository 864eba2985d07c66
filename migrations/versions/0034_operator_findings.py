"""operator findings: a reconciliation finding of no venue, the operator's (a Stripe
payout of nobody's money, or whose amount is not the sum of its balance transactions)

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-01 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("reconciliation_findings", "venue_id", existing_type=sa.String(length=32),
                    nullable=True)  # fmt: skip


def downgrade() -> None:
    op.execute(
        "DELETE FROM finding_acknowledgements WHERE finding_id IN "
        "(SELECT id FROM reconciliation_findings WHERE venue_id IS NULL)"
    )
    op.execute("DELETE FROM reconciliation_findings WHERE venue_id IS NULL")
    op.alter_column("reconciliation_findings", "venue_id", existing_type=sa.String(length=32),
                    nullable=False)  # fmt: skip
