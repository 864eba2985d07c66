"""export files kept for their download link; acknowledgements of reconciliation findings;
the amount a finding concerns

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "export_files",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("venue_id", sa.String(length=32), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"]),
        sa.ForeignKeyConstraint(["venue_id"], ["venues.id"]),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_index("ix_export_files_venue_id", "export_files", ["venue_id"])
    op.create_index("ix_export_files_expires_at", "export_files", ["expires_at"])
    op.create_table(
        "finding_acknowledgements",
        sa.Column("finding_id", sa.String(length=32), nullable=False),
        sa.Column("venue_id", sa.String(length=32), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["finding_id"], ["reconciliation_findings.id"]),
        sa.ForeignKeyConstraint(["venue_id"], ["venues.id"]),
        sa.ForeignKeyConstraint(["acknowledged_by"], ["staff_people.id"]),
        sa.PrimaryKeyConstraint("finding_id"),
    )
    op.create_index(
        "ix_finding_acknowledgements_venue_id", "finding_acknowledgements", ["venue_id"]
    )
    op.add_column("reconciliation_findings", sa.Column("amount", sa.BigInteger(), nullable=True))
    op.add_column(
        "reconciliation_findings", sa.Column("currency", sa.String(length=3), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("reconciliation_findings", "currency")
    op.drop_column("reconciliation_findings", "amount")
    op.drop_index("ix_finding_acknowledgements_venue_id", table_name="finding_acknowledgements")
    op.drop_table("finding_acknowledgements")
    op.drop_index("ix_export_files_expires_at", table_name="export_files")
    op.drop_index("ix_export_files_venue_id", table_name="export_files")
    op.drop_table("export_files")
