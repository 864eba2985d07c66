"""ledger rules checked per statement where they can be

The rules stay the rules: every transaction balances over two or more entries in
its currency on accounts of its venue, and every transaction has entries. Only how
often the database looks changes.

- A balance transaction's posting (`bt:{id}`) is written with its entries in one
  statement (finance/posting.py), so it is checked at the end of that statement by
  the statement trigger that already sees the new transactions, in one set-based
  query, instead of once per row at commit. Every other transaction (posted as a
  transaction, then its entries) is checked at commit as before. A `bt:` transaction
  written without its entries is refused at once.
- The balance check aggregates a statement's entries in memory (it spilled to disk
  at the default work_mem for a batch of 100,000 transactions).

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-01 20:30:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What the statement trigger checks at the end of each INSERT: 0031's references,
# then that each new `bt:` transaction has entries (the deferred trigger skips them).
_REFER = """
CREATE OR REPLACE FUNCTION ledger_transactions_refer() RETURNS trigger AS $$
DECLARE
    bad text;
BEGIN
    SELECT coalesce(x.event_id, x.recording_id, x.venue_id) INTO bad
      FROM (SELECT DISTINCT venue_id, event_id, recording_id FROM new_transactions) x
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
    -- The scalar subquery with LIMIT stays an index probe per new row: as an anti-join
    -- the planner could choose to read all of ledger_entries.
    SELECT n.id INTO bad FROM new_transactions n
     WHERE starts_with(n.reference, 'bt:')
       AND (SELECT e.id FROM ledger_entries e WHERE e.transaction_id = n.id LIMIT 1) IS NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % has no entries', bad
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
"""

_HAVE_ENTRIES = """
DROP TRIGGER ledger_transactions_have_entries ON ledger_transactions;
CREATE CONSTRAINT TRIGGER ledger_transactions_have_entries
    AFTER INSERT ON ledger_transactions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW {when}EXECUTE FUNCTION ledger_transaction_has_entries();
"""

# 0006's check of each INSERT of entries, the same conditions; min and max only find
# whether a transaction's entries agree, so they compare bytes (COLLATE "C") rather
# than by the locale. A hash of 100,000 transactions' aggregates needs about 50 MB
# (it spilled to disk at the default work_mem); bounded by one statement's size
# (posting.BATCH), and only for the time of the check.
_BALANCE = """
CREATE OR REPLACE FUNCTION ledger_entries_balance() RETURNS trigger AS $$
DECLARE
    bad text;
    why text;
BEGIN
    SELECT d.transaction_id,
           CASE WHEN t.id IS NULL OR NOT d.accounts_exist
                    THEN 'names a missing transaction or account'
                WHEN d.total <> 0 OR d.lines < 2
                    THEN 'does not balance over two or more entries'
                ELSE 'would mix venues or currencies' END
      INTO bad, why
      FROM (SELECT n.transaction_id, sum(n.amount) AS total, count(*) AS lines,
                   min(n.currency COLLATE "C") AS currency_min,
                   max(n.currency COLLATE "C") AS currency_max,
                   min(a.venue_id COLLATE "C") AS venue_min,
                   max(a.venue_id COLLATE "C") AS venue_max,
                   bool_and(a.id IS NOT NULL) AS accounts_exist,
                   bool_and(a.currency = n.currency) AS accounts_agree
              FROM new_entries n LEFT JOIN ledger_accounts a ON a.id = n.account_id
             GROUP BY n.transaction_id) d
      LEFT JOIN ledger_transactions t ON t.id = d.transaction_id
     WHERE t.id IS NULL OR NOT d.accounts_exist OR d.total <> 0 OR d.lines < 2
        OR NOT d.accounts_agree OR d.currency_min <> t.currency OR d.currency_max <> t.currency
        OR d.venue_min <> t.venue_id OR d.venue_max <> t.venue_id
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % %', bad, why USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql SET work_mem = '64MB';
"""


def upgrade() -> None:
    op.execute(_REFER)
    op.execute(_HAVE_ENTRIES.format(when="WHEN (NOT starts_with(NEW.reference, 'bt:')) "))
    op.execute(_BALANCE)


def downgrade() -> None:
    rules: str = _migration("0006_stripe_balance_transactions_set_based_.py").SET_BASED_RULES
    balance = rules.split("CREATE FUNCTION ledger_entries_balance()", maxsplit=1)[1]
    balance = balance.split("CREATE TRIGGER ledger_entries_balance", maxsplit=1)[0]
    op.execute("ALTER FUNCTION ledger_entries_balance() RESET work_mem")
    op.execute(f"CREATE OR REPLACE FUNCTION ledger_entries_balance(){balance}")
    op.execute(_HAVE_ENTRIES.format(when=""))
    refer: str = _migration("0031_recording_money.py")._REFER
    op.execute(refer.format(recording="recording_id"))


def _migration(name: str) -> ModuleType:
    """An earlier migration's module, to restore its rules rather than copy them."""
    path = Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
