"""a tier includes a recording: its holders watch it for a number of days after the
event, through an access of kind `included` (no offer, no rental terms, its window set
when it is issued) that is mailed once

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-01 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIER_RECORDING_DAYS = (
    "(recording_id IS NULL) = (recording_days IS NULL)"
    " AND (recording_days IS NULL OR recording_days BETWEEN 1 AND 365)"
)
# An included access comes from a ticket's tier, not an offer: no offer, no rental
# terms, and its whole window (the event's end + the tier's days) set at issue.
ACCESS_INCLUDED = (
    "(kind = 'included') = (offer_id IS NULL)"
    " AND (kind <> 'included' OR (started_at IS NOT NULL AND ends_at IS NOT NULL"
    " AND start_by IS NULL AND watch_hours IS NULL))"
)


def upgrade() -> None:
    # Nullable without a default: added without rewriting the tables.
    op.add_column("tiers", sa.Column("recording_id", sa.String(length=32),
                                     sa.ForeignKey("recordings.id"), nullable=True))  # fmt: skip
    op.add_column("tiers", sa.Column("recording_days", sa.Integer(), nullable=True))
    op.create_index("ix_tiers_recording_id", "tiers", ["recording_id"])
    op.create_check_constraint("tier_recording_days", "tiers", TIER_RECORDING_DAYS)
    # The other kind rules (recording_access_rental_terms, _window) already hold for an
    # included access as they are written: only a rental has terms; a window is whole.
    op.alter_column("recording_access", "offer_id", existing_type=sa.String(length=32),
                    nullable=True)  # fmt: skip
    op.add_column("recording_access",
                  sa.Column("mailed_at", sa.DateTime(timezone=True), nullable=True))  # fmt: skip
    op.create_check_constraint("recording_access_included", "recording_access", ACCESS_INCLUDED)


def downgrade() -> None:
    op.drop_constraint("recording_access_included", "recording_access", type_="check")
    op.drop_column("recording_access", "mailed_at")
    # An access without an offer cannot stay once every access must have one.
    op.execute("DELETE FROM recording_access WHERE offer_id IS NULL")
    op.alter_column("recording_access", "offer_id", existing_type=sa.String(length=32),
                    nullable=False)  # fmt: skip
    op.drop_constraint("tier_recording_days", "tiers", type_="check")
    op.drop_index("ix_tiers_recording_id", table_name="tiers")
    op.drop_column("tiers", "recording_days")
    op.drop_column("tiers", "recording_id")
