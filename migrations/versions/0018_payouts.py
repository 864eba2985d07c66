"""payouts: payout details, batches, lines and the claims that pay an entry once

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "payout_details",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("venue_id", sa.String(length=32), nullable=False),
        sa.Column("party_type", sa.String(length=20), nullable=False),
        sa.Column("party_id", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=70), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        sa.Column("changed_at", _WHEN, nullable=False),
        sa.Column("confirmed_by", sa.String(length=64), nullable=True),
        sa.Column("confirmed_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(["venue_id"], ["venues.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("venue_id", "party_type", "party_id", name="payout_details_once"),
        sa.CheckConstraint(
            "confirmed_by IS NULL OR confirmed_by <> changed_by",
            name="payout_details_confirmed_by_another",
        ),
    )
    op.create_index("ix_payout_details_venue_id", "payout_details", ["venue_id"])
    op.create_table(
        "payout_settings",
        sa.Column("venue_id", sa.String(length=32), nullable=False),
        sa.Column("four_eyes_waived", sa.Boolean(), nullable=False),
        sa.Column("changed_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["venue_id"], ["venues.id"]),
        sa.PrimaryKeyConstraint("venue_id"),
    )
    op.create_table(
        "payout_batches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("venue_id", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("cutoff", _WHEN, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("rail", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("approval_waived", sa.Boolean(), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("approved_at", _WHEN, nullable=True),
        sa.Column("executed_on", sa.Date(), nullable=True),
        sa.Column("paid_by", sa.String(length=64), nullable=True),
        sa.Column("paid_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(["venue_id"], ["venues.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint(
            "approved_by IS NULL OR approved_by <> created_by OR approval_waived",
            name="payout_batch_approved_by_another",
        ),
    )
    op.create_index("ix_payout_batches_venue_id", "payout_batches", ["venue_id"])
    op.create_index("ix_payout_batches_created_at", "payout_batches", ["created_at"])
    op.create_table(
        "payout_lines",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("venue_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("party_type", sa.String(length=20), nullable=False),
        sa.Column("party_id", sa.String(length=32), nullable=False),
        sa.Column("party_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("left_payable", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=70), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("failed_at", _WHEN, nullable=True),
        sa.Column("advised_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["payout_batches.id"]),
        sa.ForeignKeyConstraint(["venue_id"], ["venues.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("batch_id", "account_id", name="payout_line_once_per_batch"),
        sa.CheckConstraint("amount >= 0", name="payout_line_amount_not_negative"),
    )
    op.create_index("ix_payout_lines_batch_id", "payout_lines", ["batch_id"])
    op.create_index("ix_payout_lines_party_id", "payout_lines", ["party_id"])
    op.create_table(
        "payout_claims",
        sa.Column("entry_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("line_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["payout_lines.id"]),
        sa.PrimaryKeyConstraint("entry_id"),
    )
    op.create_index("ix_payout_claims_line_id", "payout_claims", ["line_id"])


def downgrade() -> None:
    op.drop_index("ix_payout_claims_line_id", table_name="payout_claims")
    op.drop_table("payout_claims")
    op.drop_index("ix_payout_lines_party_id", table_name="payout_lines")
    op.drop_index("ix_payout_lines_batch_id", table_name="payout_lines")
    op.drop_table("payout_lines")
    op.drop_index("ix_payout_batches_created_at", table_name="payout_batches")
    op.drop_index("ix_payout_batches_venue_id", table_name="payout_batches")
    op.drop_table("payout_batches")
    op.drop_table("payout_settings")
    op.drop_index("ix_payout_details_venue_id", table_name="payout_details")
    op.drop_table("payout_details")
