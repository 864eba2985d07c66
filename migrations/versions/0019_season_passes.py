"""season passes: pass products, their series of events, the passes sold, their claims
and their money per covered event; an order may buy a pass instead of an event's tickets

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.alter_column("orders", "event_id", existing_type=sa.String(length=32), nullable=True)
    op.add_column("orders", sa.Column("pass_id", sa.String(length=32), nullable=True))
    op.create_index("ix_orders_pass_id", "orders", ["pass_id"])
    op.create_table(
        "season_passes",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("venue_id", sa.String(length=32), sa.ForeignKey("venues.id"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=10_000), nullable=False),
        sa.Column("price_amount", sa.Integer(), nullable=False),
        sa.Column("vat_rate_bps", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("sold", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        _ts("sales_start", True),
        _ts("sales_end", True),
        sa.Column("max_claims", sa.Integer(), nullable=True),
        sa.Column("transferable", sa.Boolean(), nullable=False),
        sa.Column("weighting", sa.String(length=16), nullable=False),
        sa.Column("late_refund", sa.String(length=16), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint(
            "capacity IS NULL OR sold + held <= capacity", name="pass_within_capacity"
        ),
        sa.CheckConstraint("sold >= 0 AND held >= 0", name="pass_counts_not_negative"),
        sa.CheckConstraint("price_amount >= 0", name="pass_price_not_negative"),
    )
    op.create_index("ix_season_passes_venue_id", "season_passes", ["venue_id"])
    op.create_table(
        "pass_events",
        sa.Column(
            "pass_id", sa.String(length=32), sa.ForeignKey("season_passes.id"), primary_key=True
        ),
        sa.Column("event_id", sa.String(length=32), sa.ForeignKey("events.id"), primary_key=True),
        sa.Column("tier_id", sa.String(length=32), sa.ForeignKey("tiers.id"), nullable=False),
        _ts("added_at"),
    )
    op.create_table(
        "pass_holdings",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column(
            "pass_id", sa.String(length=32), sa.ForeignKey("season_passes.id"), nullable=False
        ),
        sa.Column("venue_id", sa.String(length=32), sa.ForeignKey("venues.id"), nullable=False),
        sa.Column(
            "order_id",
            sa.String(length=32),
            sa.ForeignKey("orders.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        _ts("mailed_at", True),
        _ts("created_at"),
    )
    op.create_index("ix_pass_holdings_pass_id", "pass_holdings", ["pass_id"])
    op.create_index("ix_pass_holdings_venue_id", "pass_holdings", ["venue_id"])
    op.create_index("ix_pass_holdings_email", "pass_holdings", ["email"])
    op.create_table(
        "pass_claims",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column(
            "holding_id", sa.String(length=32), sa.ForeignKey("pass_holdings.id"), nullable=False
        ),
        sa.Column("event_id", sa.String(length=32), sa.ForeignKey("events.id"), nullable=False),
        sa.Column("order_id", sa.String(length=32), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), sa.ForeignKey("tickets.id"), nullable=False),
        _ts("created_at"),
        sa.UniqueConstraint("holding_id", "event_id", name="pass_claim_once"),
    )
    op.create_index("ix_pass_claims_holding_id", "pass_claims", ["holding_id"])
    op.create_index("ix_pass_claims_event_id", "pass_claims", ["event_id"])
    op.create_table(
        "pass_shares",
        sa.Column(
            "holding_id", sa.String(length=32), sa.ForeignKey("pass_holdings.id"), primary_key=True
        ),
        sa.Column("event_id", sa.String(length=32), sa.ForeignKey("events.id"), primary_key=True),
        sa.Column(
            "pass_id", sa.String(length=32), sa.ForeignKey("season_passes.id"), nullable=False
        ),
        sa.Column("venue_id", sa.String(length=32), sa.ForeignKey("venues.id"), nullable=False),
        sa.Column("net", sa.Integer(), nullable=False),
        sa.Column("vat", sa.Integer(), nullable=False),
        sa.Column("fee", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("refund_id", sa.String(length=32), sa.ForeignKey("refunds.id"), nullable=True),
        _ts("settled_at", True),
        _ts("created_at"),
    )
    op.create_index("ix_pass_shares_event_id", "pass_shares", ["event_id"])
    op.create_index("ix_pass_shares_pass_id", "pass_shares", ["pass_id"])
    op.create_index("ix_pass_shares_state", "pass_shares", ["state"])
    # Constant default: added without rewriting the table.
    op.add_column(
        "split_postings",
        sa.Column("pass_revenue", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    )


def downgrade() -> None:
    op.drop_column("split_postings", "pass_revenue")
    op.drop_table("pass_shares")
    op.drop_table("pass_claims")
    op.drop_table("pass_holdings")
    op.drop_table("pass_events")
    op.drop_table("season_passes")
    op.drop_index("ix_orders_pass_id", table_name="orders")
    op.drop_column("orders", "pass_id")
    # Pass orders have no event: they go with their column, and what hangs off them
    # (their refunds, disputes and Stripe balance transactions) with them. Their ledger
    # postings name them only by reference and stay.
    for table in ("refunds", "disputes", "stripe_balance_transactions", "reschedule_notices",
                  "tickets", "order_items"):  # fmt: skip
        op.execute(  # the table names are the constants above
            f"DELETE FROM {table} WHERE order_id IN "  # noqa: S608
            "(SELECT id FROM orders WHERE event_id IS NULL)"
        )
    op.execute("DELETE FROM orders WHERE event_id IS NULL")
    op.alter_column("orders", "event_id", existing_type=sa.String(length=32), nullable=False)
