"""Erasing a buyer: their address leaves every table that held it; the books stay.

And the tables that can never be changed (the ledger, the audit log, split postings:
the append-only ones) never hold a buyer's address in the first place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.db import Database
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.kit.clock import FixedClock
from streamsvc.orders.fulfilment import mail_tickets
from tests.audit.log import Log, actor, admin_key_id, described
from tests.conftest import RecordingQueue
from tests.factories import ok
from tests.finance.world import World, build, ledger
from tests.orders import scenarios as s
from tests.stripe_helpers import event, stripe_object

ADDRESS = "Jan.Jansen@Example.org"
NAME = "Jan Jansen"


@pytest.fixture
def mail_settings(settings: Settings, tmp_path: Path) -> Settings:
    """Ticket mails written to a directory of this test's own."""
    return settings.model_copy(update={"data_dir": tmp_path})


@pytest.fixture
def client(
    mail_settings: Settings, clock: FixedClock, queue: RecordingQueue
) -> Iterator[TestClient]:
    with TestClient(create_app(mail_settings, clock, queue=queue),
                    raise_server_exceptions=False) as test_client:  # fmt: skip
        yield test_client


def _buy(world: World, email: str, key: str) -> dict[str, Any]:
    """A paid order of `email`, placed with an Idempotency-Key; Stripe's webhook carries
    the address and the buyer's name, as Stripe's payment intents do."""
    body = {"email": email, "country": "NL",
            "items": [{"tier_id": world.tiers[0]["id"], "quantity": 2}]}  # fmt: skip
    order: dict[str, Any] = ok(world.client.post(
        f"/v1/public/events/{world.event['id']}/orders", json=body,
        headers={"Idempotency-Key": key}), 201)  # fmt: skip
    intent_id, total = order["payment"]["payment_intent_id"], order["total_amount"]
    world.books.charge(intent_id, total)
    intent = stripe_object(
        "payment_intent", id=intent_id, amount=total, amount_received=total,
        status="succeeded", currency="eur", metadata={"order_id": order["id"]},
        receipt_email=email.upper(),
        shipping={"name": NAME, "phone": "+31 6 12345678", "address": {"city": "Utrecht"}},
    )  # fmt: skip
    s.deliver(world.client, event("payment_intent.succeeded", intent))
    s.drain(world.database, world.clock)
    world.orders.append(order)
    return order


def _mentions(database: Database, table: str, needle: str) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(
            text(f"SELECT count(*) FROM {table} t WHERE strpos(lower(t::text), :needle) > 0"),
            {"needle": needle.lower()},
        ).scalar_one())  # fmt: skip


def _append_only_tables(database: Database) -> set[str]:
    """The tables PostgreSQL keeps from UPDATE and DELETE (their triggers' names say so)."""
    with database.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger "
            "WHERE NOT tgisinternal AND tgname LIKE '%append_only'"
        )).scalars()  # fmt: skip
        return set(rows)


def _books(database: Database) -> dict[str, Any]:
    with database.engine.connect() as conn:
        unbalanced = conn.execute(text(
            "SELECT count(*) FROM (SELECT transaction_id FROM ledger_entries "
            "GROUP BY transaction_id HAVING sum(amount) <> 0) AS t"
        )).scalar_one()  # fmt: skip
        orders = conn.execute(text(
            "SELECT id, status, total_amount, paid_amount, refunded_amount FROM orders ORDER BY id"
        )).all()  # fmt: skip
        tickets = conn.execute(text("SELECT id, status FROM tickets ORDER BY id")).all()
    return {"ledger": ledger(database), "unbalanced": unbalanced,
            "orders": [tuple(r) for r in orders], "tickets": [tuple(r) for r in tickets]}  # fmt: skip


def test_erasure_anonymises_the_buyer_and_leaves_the_books(
    client: TestClient, database: Database, clock: FixedClock, mail_settings: Settings
) -> None:
    world = build(client, database, clock, tiers=[(2000, 2100, None)], platform_fee_bps=500,
                  costs=[10_000], shares=[10_000])  # fmt: skip
    mine = [_buy(world, ADDRESS, "k-1"), _buy(world, ADDRESS.lower(), "k-2")]
    other = _buy(world, "someone.else@example.org", "k-3")
    for order in [*mine, other]:
        assert mail_tickets(database, mail_settings, order["id"], clock.now())
    reconcile_event(database, world.books, world.event["id"], clock.now(), period="2026-12")
    # The same buyer at another venue: not this venue's to erase.
    elsewhere = build(client, database, clock, tiers=[(2000, 2100, None)],
                      platform_fee_bps=0, costs=[], shares=[10_000])  # fmt: skip
    theirs = _buy(elsewhere, ADDRESS, "k-4")

    needle = ADDRESS.lower()
    assert _mentions(database, "orders", needle) == 3
    assert _mentions(database, "stripe_events", needle) == 3
    assert _mentions(database, "stripe_events", NAME) == 4  # every buyer here is a Jan
    assert _mentions(database, "idempotency_keys", mine[0]["id"]) == 1
    mails = mail_settings.data_dir / "outbox"
    assert len(list(mails.glob("*.eml"))) == 3
    books = _books(database)
    assert books["ledger"] and books["unbalanced"] == 0

    log = Log(database)
    erased = ok(client.post("/v1/buyers/erase", json={"email": f"  {ADDRESS.upper()} "},
                            headers=world.venue.headers))  # fmt: skip
    assert erased["erased_as"].startswith("erased-") and erased["erased_as"].endswith("@invalid")
    assert (erased["orders"], erased["idempotency_records"], erased["webhook_payloads"],
            erased["mails"]) == (2, 2, 2, 2)  # fmt: skip

    # Gone from this venue's orders, payloads, stored answers and mails ...
    with database.engine.connect() as conn:
        emails: dict[str, str] = dict(conn.execute(text("SELECT id, email FROM orders")).all())
    assert [emails[o["id"]] for o in mine] == [erased["erased_as"]] * 2
    assert emails[other["id"]] == "someone.else@example.org"
    assert emails[theirs["id"]] == ADDRESS  # ... but not from the other venue's
    assert _mentions(database, "stripe_events", needle) == 1  # the other venue's payment
    assert _mentions(database, "stripe_events", NAME) == 2  # the other buyer's and theirs
    assert _mentions(database, "idempotency_keys", mine[0]["id"]) == 0
    assert _mentions(database, "idempotency_keys", other["id"]) == 1
    assert len(list(mails.glob("*.eml"))) == 1
    for table in ("orders", "outbox_messages", "jobs", "refunds"):
        assert _mentions(database, table, needle) == (1 if table == "orders" else 0), table

    # ... while the money, the tickets and the ledger are exactly as they were.
    assert _books(database) == books

    # Recorded with the counts, by the admin key, without the address.
    entry = log.one()
    assert actor(entry) == ("key", admin_key_id(client, world.venue))
    assert described(entry) == ("buyer.erased", "buyer", erased["erased_as"].split("@")[0], {
        "orders": 2, "idempotency_records": 2, "webhook_payloads": 2, "outbox_messages": 0,
        "mails": 2, "pass_holdings": 0})  # fmt: skip

    # Erasing again finds nothing more, and says so.
    again = ok(client.post("/v1/buyers/erase", json={"email": ADDRESS},
                           headers=world.venue.headers))  # fmt: skip
    assert (again["orders"], again["webhook_payloads"], again["mails"]) == (0, 0, 0)
    assert log.one().changes["orders"] == 0


def test_append_only_tables_never_hold_a_buyers_address(
    client: TestClient, database: Database, clock: FixedClock, mail_settings: Settings
) -> None:
    """After a full buy (ordered, paid, mailed, refunded in part, reconciled, split)."""
    world = build(client, database, clock, tiers=[(2000, 2100, None)], platform_fee_bps=500,
                  costs=[1000], shares=[7000, 3000])  # fmt: skip
    order = _buy(world, ADDRESS, "k-1")
    assert mail_tickets(database, mail_settings, order["id"], clock.now())
    ok(client.post(f"/v1/orders/{order['id']}/refunds", json={"amount": 500},
                   headers=world.venue.headers), 202)  # fmt: skip
    world.refund(order, 700)
    reconcile_event(database, world.books, world.event["id"], clock.now(), period="2026-12")

    tables = _append_only_tables(database)
    assert {"ledger_entries", "ledger_transactions", "ledger_accounts", "split_postings",
            "audit_entries"} <= tables  # fmt: skip
    with database.engine.connect() as conn:
        for table in ("ledger_entries", "split_postings", "audit_entries"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() > 0, table
    assert _mentions(database, "orders", ADDRESS) == 1  # the address is there to find
    for table in sorted(tables):
        for needle in (ADDRESS, NAME):
            assert _mentions(database, table, needle) == 0, (table, needle)
