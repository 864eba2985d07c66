"""recordings and the archive: recordings with their licence and rights, performers,
offers (retired, never changed), the venues' rights holders and versioned split rules

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-01 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(name: str, target: str | None = None, *, nullable: bool = False) -> sa.Column[str]:
    if target is None:
        return sa.Column(name, sa.String(length=32), nullable=nullable)
    return sa.Column(name, sa.String(length=32), sa.ForeignKey(target), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "recordings",
        _id("id"),
        _id("venue_id", "venues.id"),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=10_000), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        _id("source_event_id", "events.id", nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("playback", sa.String(length=2000), nullable=True),
        sa.Column("quality", sa.String(length=8), nullable=False),
        sa.Column("licence", sa.String(length=32), nullable=False),
        sa.Column("copyright_holder", sa.String(length=200), nullable=False),
        sa.Column("credit_line", sa.String(length=500), nullable=False),
        sa.Column("access_continues_after_withdrawal", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint("status IN ('draft', 'published', 'withdrawn')",
                           name="recording_status"),
        sa.CheckConstraint("kind IN ('video', 'audio')", name="recording_kind"),
        sa.CheckConstraint("duration_seconds > 0", name="recording_duration_positive"),
    )  # fmt: skip
    op.create_index("ix_recordings_venue_id", "recordings", ["venue_id"])
    op.create_index("ix_recordings_status", "recordings", ["status"])
    op.create_table(
        "recording_performers",
        _id("recording_id", "recordings.id"),
        _id("performer_id", "performers.id"),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("recording_id", "performer_id"),
    )
    op.create_table(
        "recording_offers",
        _id("id"),
        _id("recording_id", "recordings.id"),
        _id("venue_id", "venues.id"),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("price_amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("vat_rate_bps", sa.Integer(), nullable=False),
        sa.Column("start_within_days", sa.Integer(), nullable=True),
        sa.Column("watch_hours", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint("kind IN ('rental', 'purchase', 'free')", name="recording_offer_kind"),
        sa.CheckConstraint(
            "(kind = 'free' AND price_amount = 0) OR (kind <> 'free' AND price_amount > 0)",
            name="recording_offer_price",
        ),
        sa.CheckConstraint(
            "(kind = 'rental' AND start_within_days IS NOT NULL AND watch_hours IS NOT NULL)"
            " OR (kind <> 'rental' AND start_within_days IS NULL AND watch_hours IS NULL)",
            name="recording_offer_rental_terms",
        ),
    )
    op.create_index("ix_recording_offers_recording_id", "recording_offers", ["recording_id"])
    op.create_index("recording_offer_one_active", "recording_offers", ["recording_id", "kind"],
                    unique=True, postgresql_where=sa.text("retired_at IS NULL"))  # fmt: skip
    op.create_table(
        "rights_holders",
        _id("id"),
        _id("venue_id", "venues.id"),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("payout_reference", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rights_holders_venue_id", "rights_holders", ["venue_id"])
    op.create_table(
        "recording_split_rules",
        _id("id"),
        _id("recording_id", "recordings.id"),
        _id("venue_id", "venues.id"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("platform_fee_bps", sa.Integer(), nullable=False),
        sa.Column("costs", postgresql.JSONB(), nullable=False),
        sa.Column("shares", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("recording_id", "version", name="recording_split_rule_version"),
    )
    op.create_index(
        "ix_recording_split_rules_recording_id", "recording_split_rules", ["recording_id"]
    )


def downgrade() -> None:
    op.drop_table("recording_split_rules")
    op.drop_table("rights_holders")
    op.drop_table("recording_offers")
    op.drop_table("recording_performers")
    op.drop_table("recordings")
