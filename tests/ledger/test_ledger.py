"""The ledger balances and stays append-only, enforced by PostgreSQL itself."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from config.settings import Settings
from streamsvc.db import Database, make_engine
from streamsvc.ledger.service import Line, UnbalancedPosting, balances, post, reverse

NOW = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = Database(make_engine(settings.require("database_url"), pool_size=2))
    with database.unit_of_work() as uow:
        uow.session.execute(text(
            "INSERT INTO venues VALUES ('ven_l', 'Ledger House', 'ledger-house', 'NL', 'EUR', 'UTC', now()),"
            " ('ven_o', 'Other House', 'other-house', 'NL', 'EUR', 'UTC', now())"
        ))  # fmt: skip
    yield database
    database.dispose()


def _charge(reference: str = "charge:ch_1") -> list[Line]:
    return [Line("stripe_balance", 1500), Line("payable:venue:ven_l", -1500, ("venue", "ven_l"))]


def test_posting_twice_posts_once(database: Database) -> None:
    with database.unit_of_work() as uow:
        first = post(uow.session, venue_id="ven_l", reference="charge:ch_1", currency="EUR",
                     lines=_charge(), now=NOW)  # fmt: skip
        again = post(uow.session, venue_id="ven_l", reference="charge:ch_1", currency="EUR",
                     lines=_charge(), now=NOW)  # fmt: skip
    assert first is not None and again is None
    with database.unit_of_work() as uow:
        assert balances(uow.session, "ven_l", "EUR") == {
            "stripe_balance": 1500,
            "payable:venue:ven_l": -1500,
        }


def test_corrections_are_reversals(database: Database) -> None:
    with database.unit_of_work() as uow:
        post(
            uow.session,
            venue_id="ven_l",
            reference="charge:ch_1",
            currency="EUR",
            lines=_charge(),
            now=NOW,
        )
        reversal = reverse(uow.session, "charge:ch_1", "charge:ch_1:reversal", NOW)
        assert reversal is not None and reversal.reverses is not None
        assert reverse(uow.session, "charge:ch_1", "charge:ch_1:reversal", NOW) is None
    with database.unit_of_work() as uow:
        assert set(balances(uow.session, "ven_l", "EUR").values()) == {0}


def test_python_refuses_unbalanced_postings(database: Database) -> None:
    with pytest.raises(UnbalancedPosting), database.unit_of_work() as uow:
        post(uow.session, venue_id="ven_l", reference="x", currency="EUR",
             lines=[Line("a", 100), Line("b", -99)], now=NOW)  # fmt: skip
    with pytest.raises(UnbalancedPosting), database.unit_of_work() as uow:
        post(
            uow.session,
            venue_id="ven_l",
            reference="y",
            currency="EUR",
            lines=[Line("a", 0)],
            now=NOW,
        )


def _raw(database: Database, *statements: str) -> None:
    with database.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


ACCOUNTS = (
    "INSERT INTO ledger_accounts VALUES ('acc_a', 'ven_l', 'a', 'EUR', now()), "
    "('acc_b', 'ven_l', 'b', 'EUR', now()), ('acc_o', 'ven_o', 'b', 'EUR', now())"
)
TXN = "INSERT INTO ledger_transactions VALUES ('ltx_1', 'ven_l', NULL, 'raw:1', 'EUR', '', NULL, now())"


@pytest.mark.parametrize(
    ("entries", "reason"),
    [
        (
            ["(DEFAULT, 'ltx_1', 'acc_a', 100, 'EUR')", "(DEFAULT, 'ltx_1', 'acc_b', -99, 'EUR')"],
            "does not balance",
        ),
        (["(DEFAULT, 'ltx_1', 'acc_a', 0, 'EUR')"], "two or more entries"),
        (
            ["(DEFAULT, 'ltx_1', 'acc_a', 100, 'EUR')", "(DEFAULT, 'ltx_1', 'acc_b', -100, 'USD')"],
            "mix venues or currencies",
        ),
        (  # an account of another venue
            ["(DEFAULT, 'ltx_1', 'acc_a', 100, 'EUR')", "(DEFAULT, 'ltx_1', 'acc_o', -100, 'EUR')"],
            "mix venues or currencies",
        ),
        (  # no such account
            ["(DEFAULT, 'ltx_1', 'acc_a', 100, 'EUR')", "(DEFAULT, 'ltx_1', 'acc_x', -100, 'EUR')"],
            "missing transaction or account",
        ),
        (  # no such transaction
            [
                "(DEFAULT, 'ltx_1', 'acc_a', 100, 'EUR')",
                "(DEFAULT, 'ltx_1', 'acc_b', -100, 'EUR')",
                "(DEFAULT, 'ltx_9', 'acc_a', 1, 'EUR')",
                "(DEFAULT, 'ltx_9', 'acc_b', -1, 'EUR')",
            ],
            "missing transaction or account",
        ),
        ([], "has no entries"),  # checked when the transaction commits
    ],
)
def test_the_database_refuses_what_does_not_balance(
    database: Database, entries: list[str], reason: str
) -> None:
    _raw(database, ACCOUNTS)
    statements = [TXN] + (
        [f"INSERT INTO ledger_entries VALUES {', '.join(entries)}"] if entries else []
    )
    with pytest.raises(DBAPIError, match=reason):
        _raw(database, *statements)
    with database.engine.connect() as conn:  # nothing of it was kept
        assert conn.execute(text("SELECT count(*) FROM ledger_transactions")).scalar_one() == 0


def test_entries_added_later_must_still_balance(database: Database) -> None:
    _raw(
        database,
        ACCOUNTS,
        TXN,
        "INSERT INTO ledger_entries VALUES "
        "(DEFAULT, 'ltx_1', 'acc_a', 100, 'EUR'), (DEFAULT, 'ltx_1', 'acc_b', -100, 'EUR')",
    )
    with pytest.raises(DBAPIError, match="does not balance"):
        _raw(database, "INSERT INTO ledger_entries VALUES (DEFAULT, 'ltx_1', 'acc_a', 5, 'EUR')")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET amount = amount * 2",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_transactions SET description = 'edited'",
        "DELETE FROM ledger_transactions",
        "UPDATE ledger_accounts SET code = 'other'",
        "DELETE FROM ledger_accounts",
    ],
)
def test_posted_is_posted(database: Database, statement: str) -> None:
    with database.unit_of_work() as uow:
        post(
            uow.session,
            venue_id="ven_l",
            reference="charge:ch_1",
            currency="EUR",
            lines=_charge(),
            now=NOW,
        )
    with pytest.raises(DBAPIError, match="append-only"):
        _raw(database, statement)


PARTIES = {
    "payable:venue:ven_l": ("venue", "ven_l"),
    "payable:performer:prf_1": ("performer", "prf_1"),
}
lines = st.lists(
    st.tuples(st.sampled_from(["stripe_balance", "vat_payable", "stripe_fees", "payable:venue:ven_l",
                               "payable:performer:prf_1"]), st.integers(-10**9, 10**9)),
    min_size=1, max_size=6,
)  # fmt: skip


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(postings=st.lists(lines, min_size=1, max_size=8))
def test_any_postings_keep_the_ledger_balanced(database: Database, postings: list[Any]) -> None:
    expected: dict[str, int] = {}
    with database.unit_of_work() as uow:
        for i, raw in enumerate(postings):
            balanced = [Line(code, amount, PARTIES.get(code)) for code, amount in raw]
            balanced.append(Line("suspense", -sum(amount for _, amount in raw)))
            if len([line for line in balanced if line.amount]) < 2:
                continue
            post(uow.session, venue_id="ven_l", reference=f"prop:{i}:{id(postings)}", currency="EUR",
                 lines=balanced, now=NOW)  # fmt: skip
            for line in balanced:
                expected[line.account] = expected.get(line.account, 0) + line.amount
    with database.unit_of_work() as uow:
        found = balances(uow.session, "ven_l", "EUR")
        assert sum(found.values()) == 0
        assert {k: v for k, v in found.items() if v} == {k: v for k, v in expected.items() if v}
    with database.engine.begin() as conn:
        conn.execute(text("TRUNCATE ledger_entries, ledger_transactions, ledger_accounts"))


def test_finance_reads_the_ledger(client: Any, settings: Settings) -> None:
    from tests.factories import bearer, make_venue, ok

    venue = make_venue(client)
    finance = ok(client.post("/v1/api-keys", json={"role": "finance", "label": "books"},
                             headers=venue.headers), 201)  # fmt: skip
    database = Database(make_engine(settings.require("database_url"), pool_size=1))
    with database.unit_of_work() as uow:
        for i in range(3):
            post(uow.session, venue_id=venue.id, reference=f"charge:ch_{i}", currency="EUR",
                 lines=[Line("stripe_balance", 1000 + i), Line(f"payable:venue:{venue.id}", -1000 - i, ("venue", venue.id))],
                 now=NOW)  # fmt: skip
    database.dispose()
    headers = bearer(finance["key"])
    page = ok(client.get("/v1/finance/ledger", params={"limit": 4}, headers=headers))
    assert len(page["data"]) == 4 and page["next_cursor"]
    rest = ok(
        client.get("/v1/finance/ledger", params={"cursor": page["next_cursor"]}, headers=headers)
    )
    assert len(rest["data"]) == 2 and rest["next_cursor"] is None
    balance = ok(
        client.get("/v1/finance/ledger", params={"account": "stripe_balance"}, headers=headers)
    )
    assert [line["amount"] for line in balance["data"]] == [1000, 1001, 1002]
    assert {line["transaction"] for line in balance["data"]} == {
        "charge:ch_0",
        "charge:ch_1",
        "charge:ch_2",
    }
    later = ok(
        client.get("/v1/finance/ledger", params={"from": "2027-01-02T00:00:00Z"}, headers=headers)
    )
    assert later["data"] == []
    bad = client.get("/v1/finance/ledger", params={"from": "yesterday"}, headers=headers)
    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) == {"query.from"}


@pytest.mark.parametrize(
    "transaction",
    [
        "INSERT INTO ledger_transactions VALUES ('ltx_2', 'ven_x', NULL, 'raw:2', 'EUR', '', NULL, now())",
        "INSERT INTO ledger_transactions VALUES ('ltx_2', 'ven_l', 'evt_x', 'raw:2', 'EUR', '', NULL, now())",
        "INSERT INTO ledger_transactions VALUES ('ltx_2', 'ven_l', NULL, 'raw:2', 'EUR', '', 'ltx_x', now())",
    ],
    ids=["no such venue", "no such event", "reverses nothing"],
)
def test_a_transaction_names_what_exists(database: Database, transaction: str) -> None:
    with pytest.raises(DBAPIError, match="missing venue, event or transaction"):
        _raw(database, transaction)


@pytest.mark.parametrize(
    ("code", "party"),
    [("payable:venue:ven_l", None), ("payable:venue:ven_l", ("performer", "ven_l")),
     ("payable:venue:ven_l", ("venue", "ven_o")), ("payable:band:ven_l", ("band", "ven_l")),
     ("vat_payable", ("venue", "ven_l"))],
)  # fmt: skip
def test_a_payable_account_names_its_party(
    database: Database, code: str, party: tuple[str, str] | None
) -> None:
    """The party columns and the account code agree, or the database refuses the account."""
    lines = [Line("stripe_balance", 100), Line(code, -100, party)]
    with pytest.raises(DBAPIError, match="ledger_account_party"), database.unit_of_work() as uow:
        post(uow.session, venue_id="ven_l", reference="charge:ch_p", currency="EUR",
             lines=lines, now=NOW)  # fmt: skip
