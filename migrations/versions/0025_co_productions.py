"""co-productions: venues invited to co-produce an event, and their consent to each
version of its split rule made after they accepted

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "co_productions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), sa.ForeignKey("events.id"), nullable=False),
        sa.Column("lead_venue_id", sa.String(length=32), sa.ForeignKey("venues.id"),
                  nullable=False),
        sa.Column("partner_venue_id", sa.String(length=32), sa.ForeignKey("venues.id"),
                  nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("invited_by", sa.String(length=64), nullable=False),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "partner_venue_id", name="co_production_once"),
        sa.CheckConstraint("status IN ('invited', 'accepted', 'declined')",
                           name="co_production_status"),
        sa.CheckConstraint("partner_venue_id <> lead_venue_id",
                           name="co_production_other_venue"),
    )  # fmt: skip
    op.create_index("ix_co_productions_event_id", "co_productions", ["event_id"])
    op.create_index("ix_co_productions_partner_venue_id", "co_productions", ["partner_venue_id"])
    op.create_table(
        "split_rule_consents",
        sa.Column("rule_id", sa.String(length=32), sa.ForeignKey("split_rules.id"),
                  nullable=False),
        sa.Column("partner_venue_id", sa.String(length=32), sa.ForeignKey("venues.id"),
                  nullable=False),
        sa.Column("event_id", sa.String(length=32), sa.ForeignKey("events.id"), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("rule_id", "partner_venue_id"),
        sa.CheckConstraint("state IN ('pending', 'given', 'superseded')",
                           name="split_rule_consent_state"),
    )  # fmt: skip
    op.create_index("ix_split_rule_consents_event_id", "split_rule_consents", ["event_id"])


def downgrade() -> None:
    op.drop_table("split_rule_consents")
    op.drop_table("co_productions")
