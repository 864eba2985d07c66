"""The rules PostgreSQL itself enforces: CHECK constraints and triggers.

Alembic's autogenerate compares neither, so a migration that drops one passes the
models-versus-migrations test; here the database the migrations built is asked for
its exact set, and the rules that guard an invariant are shown refusing a bad row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from starlette.testclient import TestClient

from streamsvc.kit.clock import FixedClock
from tests.factories import make_event, make_tier, make_venue

# (table, constraint name): what each CHECK constraint guards is in its name.
EXPECTED_CHECKS = {
    ("recording_access", "recording_access_rental_terms"),
    ("recording_access", "recording_access_hours"),
    ("recording_access", "recording_access_window"),  # a rental's window opens once, whole
    # Included with a ticket: no offer, no rental terms, its window set at issue.
    ("recording_access", "recording_access_included"),
    ("tiers", "tier_recording_days"),  # an included recording with its 1 to 365 days
    ("tiers", "tier_within_capacity"),  # no tier sells more than its capacity
    ("tiers", "tier_counts_not_negative"),
    ("tiers", "tier_price_not_negative"),
    ("ledger_accounts", "ledger_account_party"),  # a payable account names its party
    # Money is paid for an event or a recording (finance/subjects.py), never both.
    ("stripe_balance_transactions", "stripe_balance_transactions_one_subject"),
    ("split_postings", "split_postings_one_subject"),
    ("ledger_transactions", "ledger_transaction_one_subject"),
    ("payout_details", "payout_details_confirmed_by_another"),  # four eyes on details
    ("payout_batches", "payout_batch_approved_by_another"),  # four eyes on a batch
    ("payout_lines", "payout_line_amount_not_negative"),
    ("season_passes", "pass_within_capacity"),  # no more passes sold than exist
    ("season_passes", "pass_counts_not_negative"),
    ("season_passes", "pass_price_not_negative"),
    ("season_passes", "pass_coverage_range"),  # a series has no dates, a date range both
    ("pass_share_returns", "pass_share_return_not_negative"),  # a part of a share, never less
    ("pass_share_returns", "pass_share_return_source"),  # a dashboard refund or a lost dispute
    ("pass_transfers", "pass_transfer_sequence_positive"),  # a pass's transfers count from 1
    ("listing_pushes", "listing_push_state"),  # pending, sent or failed
    ("co_productions", "co_production_status"),  # invited, accepted or declined
    ("co_productions", "co_production_other_venue"),  # a venue never co-produces with itself
    ("split_rule_consents", "split_rule_consent_state"),  # pending, given or superseded
    ("recordings", "recording_status"),  # draft, published or withdrawn
    ("recordings", "recording_kind"),  # video or audio
    ("recordings", "recording_duration_positive"),
    ("recording_offers", "recording_offer_kind"),  # rental, purchase or free
    ("recording_offers", "recording_offer_price"),  # free is 0, a sale costs something
    ("recording_offers", "recording_offer_rental_terms"),  # only a rental has its window
}

# (table, trigger name)
EXPECTED_TRIGGERS = {
    ("ledger_entries", "ledger_entries_balance"),  # every transaction balances
    ("ledger_transactions", "ledger_transactions_have_entries"),
    ("ledger_transactions", "ledger_transactions_refer"),
    ("ledger_accounts", "ledger_accounts_append_only"),
    ("ledger_entries", "ledger_entries_append_only"),
    ("ledger_transactions", "ledger_transactions_append_only"),
    ("split_postings", "split_postings_append_only"),
    ("audit_entries", "audit_entries_append_only"),  # what was done stays done
}


def test_the_check_constraints_are_exactly_these(engine: Any) -> None:
    with engine.connect() as conn:
        found = {
            (table, name)
            for table, name in conn.execute(
                text(
                    "SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c "
                    "JOIN pg_namespace n ON n.oid = c.connamespace "
                    "WHERE c.contype = 'c' AND n.nspname = 'public'"
                )
            )
        }
    assert found == EXPECTED_CHECKS, (
        f"missing: {sorted(EXPECTED_CHECKS - found)}; unexpected: {sorted(found - EXPECTED_CHECKS)}"
    )


def test_the_triggers_are_exactly_these(engine: Any) -> None:
    with engine.connect() as conn:
        found = {
            (table, name)
            for table, name in conn.execute(
                text(
                    "SELECT t.tgrelid::regclass::text, t.tgname FROM pg_trigger t "
                    "JOIN pg_class c ON c.oid = t.tgrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND n.nspname = 'public'"
                )
            )
        }
    assert found == EXPECTED_TRIGGERS, (
        f"missing or disabled: {sorted(EXPECTED_TRIGGERS - found)}; "
        f"unexpected: {sorted(found - EXPECTED_TRIGGERS)}"
    )


@pytest.fixture
def rolled_back(engine: Any, settings: Any) -> Iterator[Connection]:
    """A connection whose transaction is rolled back at the end: nothing stays behind."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield conn
        finally:
            transaction.rollback()


def _refused(conn: Connection, statement: str, sqlstate: str, **params: Any) -> str:
    """Run `statement` in a savepoint; it must fail with `sqlstate`. Returns the message."""
    savepoint = conn.begin_nested()
    with pytest.raises(DBAPIError) as refused:
        conn.execute(text(statement), params)
        conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # deferred triggers fire now
    savepoint.rollback()
    code = getattr(refused.value.orig, "sqlstate", None)
    assert code == sqlstate, f"{statement!r} failed with {code}, not {sqlstate}: {refused.value}"
    return str(refused.value.orig)


def test_a_tier_never_counts_more_than_its_capacity(
    client: TestClient, clock: FixedClock, rolled_back: Connection
) -> None:
    venue = make_venue(client)
    event = make_event(client, venue, clock.now())
    tier_id = make_tier(client, venue, event["id"], capacity=5)["id"]
    conn = rolled_back
    update = "UPDATE tiers SET held = :held, sold = :sold WHERE id = :id"
    conn.execute(text(update), {"held": 2, "sold": 3, "id": tier_id})  # exactly full: fine
    message = _refused(conn, update, "23514", held=3, sold=3, id=tier_id)
    assert "tier_within_capacity" in message
    message = _refused(conn, update, "23514", held=-1, sold=0, id=tier_id)
    assert "tier_counts_not_negative" in message
    message = _refused(conn, "UPDATE tiers SET price_amount = -1 WHERE id = :id", "23514",
                       id=tier_id)  # fmt: skip
    assert "tier_price_not_negative" in message


def _ledger(conn: Connection, venue_id: str) -> None:
    """Two accounts and one balanced transaction of the venue."""
    conn.execute(
        text(
            "INSERT INTO ledger_accounts (id, venue_id, code, currency, created_at) VALUES "
            "('acc_a', :v, 'stripe_balance', 'EUR', now()), "
            "('acc_b', :v, 'vat_payable', 'EUR', now())"
        ),
        {"v": venue_id},
    )
    conn.execute(
        text(
            "INSERT INTO ledger_transactions (id, venue_id, reference, currency, description, "
            "posted_at) VALUES ('txn_ok', :v, 'test:ok', 'EUR', '', now())"
        ),
        {"v": venue_id},
    )
    conn.execute(
        text(
            "INSERT INTO ledger_entries (transaction_id, account_id, amount, currency) VALUES "
            "('txn_ok', 'acc_a', 100, 'EUR'), ('txn_ok', 'acc_b', -100, 'EUR')"
        )
    )


def test_every_ledger_transaction_balances(client: TestClient, rolled_back: Connection) -> None:
    venue = make_venue(client)
    conn = rolled_back
    _ledger(conn, venue.id)
    conn.execute(
        text(
            "INSERT INTO ledger_transactions (id, venue_id, reference, currency, description, "
            "posted_at) VALUES ('txn_bad', :v, 'test:bad', 'EUR', '', now())"
        ),
        {"v": venue.id},
    )
    entries = ("INSERT INTO ledger_entries (transaction_id, account_id, amount, currency) "
               "VALUES ")  # fmt: skip
    message = _refused(
        conn, entries + "('txn_bad', 'acc_a', 100, 'EUR'), ('txn_bad', 'acc_b', -99, 'EUR')",
        "23514",
    )  # fmt: skip
    assert "does not balance" in message
    _refused(conn, entries + "('txn_bad', 'acc_a', 0, 'EUR')", "23514")  # one line only
    # A transaction with no entries at all is refused at commit.
    message = _refused(conn, "SELECT 1", "23514")
    assert "has no entries" in message


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET amount = amount * 2 WHERE transaction_id = 'txn_ok'",
        "DELETE FROM ledger_entries WHERE transaction_id = 'txn_ok'",
        "UPDATE ledger_transactions SET description = 'edited' WHERE id = 'txn_ok'",
        "DELETE FROM ledger_transactions WHERE id = 'txn_ok'",
        "UPDATE ledger_accounts SET code = 'renamed' WHERE id = 'acc_a'",
        "DELETE FROM ledger_accounts WHERE id = 'acc_b'",
    ],
)
def test_the_ledger_is_append_only(
    client: TestClient, rolled_back: Connection, statement: str
) -> None:
    venue = make_venue(client)
    _ledger(rolled_back, venue.id)
    message = _refused(rolled_back, statement, "42501")
    assert "append-only" in message
