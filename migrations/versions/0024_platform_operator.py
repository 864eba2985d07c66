"""the platform operator: platform admins (people of the console with a platform role),
venues suspended by the platform, each venue's city (for the catalogue's filter), and
console sessions that belong to no venue (a platform admin's)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01 05:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns without a default: added without rewriting the tables.
    op.add_column("venues", sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("venues", sa.Column("city", sa.String(length=100), nullable=True))
    op.create_table(
        "platform_admins",
        sa.Column(
            "person_id", sa.String(length=32), sa.ForeignKey("staff_people.id"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("person_id"),
    )
    # A platform admin without a membership signs in to no venue.
    op.alter_column("staff_sessions", "venue_id", existing_type=sa.String(length=32),
                    nullable=True)  # fmt: skip


def downgrade() -> None:
    op.execute("DELETE FROM staff_sessions WHERE venue_id IS NULL")
    op.alter_column("staff_sessions", "venue_id", existing_type=sa.String(length=32),
                    nullable=False)  # fmt: skip
    op.drop_table("platform_admins")
    op.drop_column("venues", "city")
    op.drop_column("venues", "suspended_at")
