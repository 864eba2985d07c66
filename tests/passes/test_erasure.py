"""Erasing a buyer who holds a season pass: the holding's address, the pass order's and
its claims' orders, and the stored answers of the pass purchase lose the address; the
pass itself keeps working (its code opens it, not the address)."""

from __future__ import annotations

from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.buyers.erasure import pseudonym
from streamsvc.db import Database
from streamsvc.idempotency import IdempotencyRecord
from streamsvc.kit.clock import FixedClock
from streamsvc.passes import buying, claims
from streamsvc.passes.models import PassHolding
from streamsvc.payments.factory import gateway_from_settings
from tests.factories import ok
from tests.orders import scenarios as s
from tests.passes.season import make_season

ADDRESS = "Els.Peeters@Example.be"


def _mentions(database: Database, table: str) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(
            text(f"SELECT count(*) FROM {table} t WHERE strpos(lower(t::text), :needle) > 0"),
            {"needle": ADDRESS.lower()},
        ).scalar_one())  # fmt: skip


def test_erasure_reaches_the_buyers_season_pass(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    season = make_season(client, database, settings, clock, concerts=2)
    bought = buying.buy_pass(
        database, gateway_from_settings(settings), settings, clock, pass_id=season.pass_id,
        email=ADDRESS, country="BE", locale="nl", idempotency_key="attempt-of-els-0001",
    )  # fmt: skip
    order = {"id": bought.order_id, "total_amount": bought.total_amount, "currency": "EUR",
             "payment": {"payment_intent_id": bought.payment_intent_id}}  # fmt: skip
    s.deliver(client, s.succeeded(order))
    s.drain(database, clock)
    with database.unit_of_work() as uow:
        claimed = claims.claim(uow, settings, bought.holding_id,
                               season.concerts[0].event["id"], clock.now())  # fmt: skip
    other = season.buy_pass()  # another holder: untouched
    assert _mentions(database, "pass_holdings") == 1
    assert _mentions(database, "orders") == 2  # the pass's order and the claim's
    assert _mentions(database, "idempotency_keys") == 0  # only a hash of it: see below
    scope = buying.idempotency_scope(season.pass_id, ADDRESS)
    with database.unit_of_work() as uow:
        assert uow.session.get(IdempotencyRecord, (scope, "attempt-of-els-0001")) is not None

    erased = ok(client.post("/v1/buyers/erase", json={"email": ADDRESS},
                            headers=season.venue.headers))  # fmt: skip
    assert erased["orders"] == 2 and erased["idempotency_records"] == 1
    for table in ("pass_holdings", "orders", "stripe_events", "outbox_messages"):
        assert _mentions(database, table) == 0, table
    with database.unit_of_work() as uow:
        holding = uow.session.get(PassHolding, bought.holding_id)
        assert holding is not None and holding.email == pseudonym(ADDRESS.lower())
        untouched = uow.session.get(PassHolding, other["holding_id"])
        assert untouched is not None and untouched.email.endswith("@example.org")
        assert uow.session.get(IdempotencyRecord, (scope, "attempt-of-els-0001")) is None
        # The pass still opens and still answers its claim.
        again = claims.claim(uow, settings, bought.holding_id,
                             season.concerts[0].event["id"], clock.now())  # fmt: skip
        assert (again.ticket_id, again.new) == (claimed.ticket_id, False)
    with database.unit_of_work() as uow:
        from sqlmodel import select

        from streamsvc.audit.models import AuditEntry

        entry = uow.session.exec(
            select(AuditEntry).where(AuditEntry.action == "buyer.erased")
        ).one()
        assert entry.changes["pass_holdings"] == 1
