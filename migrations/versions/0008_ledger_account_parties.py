"""ledger accounts name their party in columns: party_type, party_id

Payable accounts (`payable:{type}:{id}`) carry their party as columns, so that
exports and statements join on them instead of parsing account codes. A check keeps
the columns and the code in agreement.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 20:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("ledger_accounts", sa.Column("party_type", sa.String(length=20), nullable=True))
    op.add_column("ledger_accounts", sa.Column("party_id", sa.String(length=32), nullable=True))
    # Accounts are append-only (a trigger refuses UPDATE); the backfill is the one
    # sanctioned change, made with that trigger off inside this migration's transaction.
    op.execute("ALTER TABLE ledger_accounts DISABLE TRIGGER ledger_accounts_append_only")
    op.execute(
        "UPDATE ledger_accounts SET party_type = split_part(code, ':', 2), "
        "party_id = split_part(code, ':', 3) WHERE starts_with(code, 'payable:')"
    )
    op.execute("ALTER TABLE ledger_accounts ENABLE TRIGGER ledger_accounts_append_only")
    op.create_check_constraint(
        "ledger_account_party",
        "ledger_accounts",
        # coalesce: a CHECK whose expression is NULL passes, a missing party must not.
        "CASE WHEN starts_with(code, 'payable:') THEN coalesce("
        "party_type IN ('venue', 'performer') AND party_id <> ''"
        " AND code = 'payable:' || party_type || ':' || party_id, false)"
        " ELSE party_type IS NULL AND party_id IS NULL END",
    )


def downgrade() -> None:
    op.drop_constraint("ledger_account_party", "ledger_accounts", type_="check")
    op.drop_column("ledger_accounts", "party_id")
    op.drop_column("ledger_accounts", "party_type")
