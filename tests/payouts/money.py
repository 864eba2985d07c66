"""Payout test helpers: a venue whose event sold and was split in the ledger, the
parties' payout details, runs, and what the ledger says each party is owed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.kit.clock import FixedClock
from streamsvc.payouts import details, runs, setup
from streamsvc.payouts.models import PayoutBatch, PayoutLine
from tests.factories import VenueHandle, make_event, ok
from tests.finance.world import World, build

IBANS = ["NL91ABNA0417164300", "NL20INGB0001234567", "DE89370400440532013000",
         "BE68539007547034", "NL39RABO0300065264"]  # fmt: skip


def sold_world(client: TestClient, database: Database, clock: FixedClock, *, orders: int = 3,
               venue: VenueHandle | None = None) -> World:  # fmt: skip
    """A venue's event (the venue 50 %, two performers 30 % and 20 %) with paid orders,
    reconciled and split: the parties' parts are payable in the ledger."""
    world = build(client, database, clock, tiers=[(2000, 2100, None), (5000, 900, 100)],
                  platform_fee_bps=1000, costs=[1000], shares=[5000, 3000, 2000], venue=venue)  # fmt: skip
    for n in range(orders):
        world.buy([(n % 2, 1 + n % 3)])
    split(world, "first")
    return world


def split(world: World, period: str) -> None:
    reconcile_event(world.database, world.books, world.event["id"], world.clock.now(),
                    period=period)  # fmt: skip


def another_event(world: World) -> World:
    """A second event of the same venue shared by the same parties (same shares)."""
    client, venue = world.client, world.venue
    event = make_event(client, venue, world.clock.now(), title="Don Giovanni")
    tier = ok(client.post(f"/v1/events/{event['id']}/tiers", headers=venue.headers,
                          json={"name": "Stream", "price_amount": 3000, "vat_rate_bps": 2100,
                                "access": {"quality": "hd"}}), 201)  # fmt: skip
    shares = [5000, 3000, 2000]
    rule = {"platform_fee_bps": 1000, "costs": [],
            "shares": [{"party": {"type": p["type"], "id": p["id"]}, "bps": b}
                       for p, b in zip(world.parties, shares, strict=True)]}  # fmt: skip
    ok(client.put(f"/v1/events/{event['id']}/split-rule", json=rule, headers=venue.headers))
    ok(client.post(f"/v1/events/{event['id']}/publish", headers=venue.headers))
    return World(client, world.database, world.clock, venue, event, [tier], world.parties,
                 books=world.books)  # fmt: skip


def owed(database: Database, venue_id: str) -> dict[tuple[str, str], int]:
    """What each party's payable account holds (positive: owed to the party)."""
    with database.engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT a.party_type, a.party_id, -coalesce(sum(e.amount), 0)
              FROM ledger_accounts a LEFT JOIN ledger_entries e ON e.account_id = a.id
             WHERE a.venue_id = :v AND a.party_type IS NOT NULL
             GROUP BY a.party_type, a.party_id
        """), {"v": venue_id}).all()  # fmt: skip
    return {(str(kind), str(pid)): int(total) for kind, pid, total in rows}


def account_balance(database: Database, venue_id: str, code: str) -> int:
    with database.engine.connect() as conn:
        total = conn.execute(text(
            "SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e "
            "JOIN ledger_accounts a ON a.id = e.account_id WHERE a.venue_id = :v AND a.code = :c"
        ), {"v": venue_id, "c": code}).scalar_one()  # fmt: skip
    return int(total)


def ledger_sums_to_zero(database: Database) -> bool:
    with database.engine.connect() as conn:
        return int(conn.execute(text("SELECT coalesce(sum(amount), 0) FROM ledger_entries"))
                   .scalar_one()) == 0  # fmt: skip


def give_details(database: Database, world: World, now: datetime, *, skip: int | None = None,
                 by: str = "stf_alice", confirmer: str | None = "stf_bob") -> None:  # fmt: skip
    """Payout details for every party of the world (but party `skip`), confirmed by
    `confirmer` (None: left unconfirmed)."""
    with database.unit_of_work() as uow:
        for n, party in enumerate(world.parties):
            if n == skip:
                continue
            details.change(uow.session, world.venue.id, party["type"], party["id"],
                           holder=f"Holder {n}", iban=IBANS[n], bic="", changed_by=by, now=now)  # fmt: skip
            if confirmer is not None:
                details.confirm(uow.session, world.venue.id, party["type"], party["id"],
                                confirmed_by=confirmer, now=now)  # fmt: skip


def run(database: Database, settings: Settings, venue_id: str, period: str, now: datetime,
        by: str = "stf_alice") -> str:  # fmt: skip
    with database.unit_of_work() as uow:
        batch = runs.run(uow.session, venue_id, period, rail=setup.rail(settings),
                         policy=setup.policy(settings), created_by=by, now=now)  # fmt: skip
        return batch.id


def lines(database: Database, batch_id: str) -> dict[str, PayoutLine]:
    """The batch's lines by party id."""
    with database.unit_of_work() as uow:
        return {line.party_id: line for line in runs.lines_of(uow.session, batch_id)}


def batch(database: Database, batch_id: str) -> PayoutBatch:
    with database.unit_of_work() as uow:
        found = uow.session.get(PayoutBatch, batch_id)
        assert found is not None
        return found


def party_key(party: dict[str, Any]) -> tuple[str, str]:
    return party["type"], party["id"]
