"""recording money: a recording's balance transactions, ledger transactions and split
postings, and rights holders as parties of the ledger

A recording's sales go through the same collection, posting, split and payouts as an
event's (finance/subjects.py): each of these rows names either an event or a
recording, never both, and the split postings and balance transactions exactly one.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-01 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFER = """
CREATE OR REPLACE FUNCTION ledger_transactions_refer() RETURNS trigger AS $$
DECLARE
    bad text;
BEGIN
    SELECT coalesce(x.event_id, x.recording_id, x.venue_id) INTO bad
      FROM (SELECT DISTINCT venue_id, event_id, {recording} AS recording_id
              FROM new_transactions) x
     WHERE NOT EXISTS (SELECT 1 FROM venues v WHERE v.id = x.venue_id)
        OR x.event_id IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM events e WHERE e.id = x.event_id AND e.venue_id = x.venue_id)
        OR x.recording_id IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM recordings r
                WHERE r.id = x.recording_id AND r.venue_id = x.venue_id)
     LIMIT 1;
    IF NOT FOUND THEN
        SELECT x.reverses INTO bad
          FROM (SELECT DISTINCT reverses FROM new_transactions WHERE reverses IS NOT NULL) x
         WHERE NOT EXISTS (SELECT 1 FROM ledger_transactions r WHERE r.id = x.reverses)
         LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transactions name a missing venue, event or transaction: %', bad
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
"""


def _party_check(types: str) -> str:
    return (
        "CASE WHEN starts_with(code, 'payable:') THEN coalesce("
        f"party_type IN ({types}) AND party_id <> ''"
        " AND code = 'payable:' || party_type || ':' || party_id, false)"
        " ELSE party_type IS NULL AND party_id IS NULL END"
    )


def upgrade() -> None:
    for table in ("stripe_balance_transactions", "split_postings"):
        op.alter_column(table, "event_id", existing_type=sa.String(length=32), nullable=True)
        op.add_column(table, sa.Column("recording_id", sa.String(length=32),
                                       sa.ForeignKey("recordings.id"), nullable=True))  # fmt: skip
        op.create_check_constraint(
            f"{table}_one_subject", table, "num_nonnulls(event_id, recording_id) = 1"
        )
    # Posting walks a recording's rows in id order, as an event's.
    op.create_index("ix_stripe_balance_transactions_recording_id_id",
                    "stripe_balance_transactions", ["recording_id", "id"])  # fmt: skip
    op.create_index("ix_split_postings_recording_id", "split_postings", ["recording_id"])
    op.add_column("ledger_transactions",
                  sa.Column("recording_id", sa.String(length=32), nullable=True))  # fmt: skip
    op.create_index("ix_ledger_transactions_recording_id", "ledger_transactions",
                    ["recording_id"])  # fmt: skip
    op.create_check_constraint("ledger_transaction_one_subject", "ledger_transactions",
                               "num_nonnulls(event_id, recording_id) <= 1")  # fmt: skip
    op.execute(_REFER.format(recording="recording_id"))
    op.drop_constraint("ledger_account_party", "ledger_accounts", type_="check")
    op.create_check_constraint("ledger_account_party", "ledger_accounts",
                               _party_check("'venue', 'performer', 'rights_holder'"))  # fmt: skip


def downgrade() -> None:
    op.drop_constraint("ledger_account_party", "ledger_accounts", type_="check")
    op.create_check_constraint("ledger_account_party", "ledger_accounts",
                               _party_check("'venue', 'performer'"))  # fmt: skip
    op.execute(_REFER.format(recording="NULL::varchar"))
    op.drop_constraint("ledger_transaction_one_subject", "ledger_transactions", type_="check")
    op.drop_index("ix_ledger_transactions_recording_id", table_name="ledger_transactions")
    op.drop_column("ledger_transactions", "recording_id")
    op.drop_index("ix_split_postings_recording_id", table_name="split_postings")
    op.drop_index("ix_stripe_balance_transactions_recording_id_id",
                  table_name="stripe_balance_transactions")  # fmt: skip
    for table in ("stripe_balance_transactions", "split_postings"):
        op.drop_constraint(f"{table}_one_subject", table, type_="check")
        op.drop_column(table, "recording_id")
        op.alter_column(table, "event_id", existing_type=sa.String(length=32), nullable=False)
