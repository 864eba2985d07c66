"""season passes covering every event of the venue in a date range

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-01 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# passes/models.py COVERAGE_RANGE, as it was written here.
COVERAGE_RANGE = (
    "(coverage = 'series' AND covers_from IS NULL AND covers_until IS NULL)"
    " OR (coverage = 'date_range' AND covers_from IS NOT NULL AND covers_until IS NOT NULL"
    " AND covers_until > covers_from AND range_changed_at IS NOT NULL)"
)


def upgrade() -> None:
    # Every pass sold so far covers a series; the default fills them in, then goes: the
    # service names the coverage of every pass it makes.
    op.add_column(
        "season_passes",
        sa.Column("coverage", sa.String(length=16), nullable=False, server_default="series"),
    )
    op.alter_column("season_passes", "coverage", server_default=None)
    for name in ("covers_from", "covers_until", "range_changed_at"):
        op.add_column("season_passes", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint("pass_coverage_range", "season_passes", COVERAGE_RANGE)


def downgrade() -> None:
    op.drop_constraint("pass_coverage_range", "season_passes", type_="check")
    for name in ("range_changed_at", "covers_until", "covers_from", "coverage"):
        op.drop_column("season_passes", name)
