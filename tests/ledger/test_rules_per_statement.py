"""A balance transaction's posting (`bt:{id}`) is checked at the end of its statement
(migration 0036): it is written with its entries in one statement, or refused at once.
Every other transaction may still get its entries later in its database transaction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from config.settings import Settings
from streamsvc.db import Database, make_engine


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = Database(make_engine(settings.require("database_url"), pool_size=2))
    with database.engine.begin() as conn:
        conn.execute(text("INSERT INTO venues VALUES ('ven_l', 'Ledger House', 'ledger-house',"
                          " 'NL', 'EUR', 'UTC', now())"))  # fmt: skip
        conn.execute(text("INSERT INTO ledger_accounts VALUES ('acc_a', 'ven_l', 'a', 'EUR',"
                          " now()), ('acc_b', 'ven_l', 'b', 'EUR', now())"))  # fmt: skip
    yield database
    database.dispose()


def _txn(txn_id: str, reference: str) -> str:
    return (f"INSERT INTO ledger_transactions VALUES ('{txn_id}', 'ven_l', NULL, '{reference}',"
            " 'EUR', '', NULL, now())")  # fmt: skip


# One statement: transactions and their entries, as finance/posting.py writes them.
_TOGETHER = """
WITH txns AS (
    INSERT INTO ledger_transactions
    SELECT id, 'ven_l', NULL, reference, 'EUR', '', NULL, now()
      FROM (VALUES {transactions}) AS t(id, reference)
    RETURNING 1
), entries AS (
    INSERT INTO ledger_entries (transaction_id, account_id, amount, currency)
    SELECT * FROM (VALUES {entries}) AS e(transaction_id, account_id, amount, currency)
    RETURNING 1
)
SELECT (SELECT count(*) FROM txns), (SELECT count(*) FROM entries)
"""


def _count(conn: Connection) -> int:
    return int(conn.execute(text("SELECT count(*) FROM ledger_transactions")).scalar_one())


def test_a_balance_transaction_without_entries_is_refused_at_once(database: Database) -> None:
    with database.engine.connect() as conn, conn.begin():
        with pytest.raises(DBAPIError, match="has no entries") as refused:
            conn.execute(text(_txn("ltx_bt", "bt:txn_1")))
        # at the INSERT itself, not at commit: no entries can come later
        assert getattr(refused.value.orig, "sqlstate", None) == "23514"
    with database.engine.connect() as conn:
        assert _count(conn) == 0


def test_other_transactions_may_get_their_entries_later(database: Database) -> None:
    with database.engine.begin() as conn:
        conn.execute(text(_txn("ltx_later", "split:evt_x:v1:p")))
        conn.execute(text("INSERT INTO ledger_entries (transaction_id, account_id, amount, currency)"
                          " VALUES ('ltx_later', 'acc_a', 7, 'EUR'),"
                          " ('ltx_later', 'acc_b', -7, 'EUR')"))  # fmt: skip
    with database.engine.connect() as conn:
        assert _count(conn) == 1


def test_balance_transactions_posted_with_their_entries_are_kept(database: Database) -> None:
    with database.engine.begin() as conn:
        posted = conn.execute(text(_TOGETHER.format(
            transactions="('ltx_1', 'bt:txn_1'), ('ltx_2', 'bt:txn_2')",
            entries="('ltx_1', 'acc_a', 100, 'EUR'), ('ltx_1', 'acc_b', -100, 'EUR'),"
                    " ('ltx_2', 'acc_a', -30, 'EUR'), ('ltx_2', 'acc_b', 30, 'EUR')",
        ))).one()  # fmt: skip
        assert tuple(posted) == (2, 4)
    with database.engine.connect() as conn:
        assert _count(conn) == 2


@pytest.mark.parametrize(
    ("transactions", "entries", "reason"),
    [
        (  # the second posting of the statement has no entries
            "('ltx_1', 'bt:txn_1'), ('ltx_2', 'bt:txn_2')",
            "('ltx_1', 'acc_a', 100, 'EUR'), ('ltx_1', 'acc_b', -100, 'EUR')",
            "ltx_2 has no entries",
        ),
        (  # the balance rule is checked as before
            "('ltx_1', 'bt:txn_1')",
            "('ltx_1', 'acc_a', 100, 'EUR'), ('ltx_1', 'acc_b', -99, 'EUR')",
            "does not balance",
        ),
    ],
)
def test_the_database_refuses_a_statement_that_breaks_a_rule(
    database: Database, transactions: str, entries: str, reason: str
) -> None:
    with pytest.raises(DBAPIError, match=reason), database.engine.begin() as conn:
        conn.execute(text(_TOGETHER.format(transactions=transactions, entries=entries)))
    with database.engine.connect() as conn:
        assert _count(conn) == 0
