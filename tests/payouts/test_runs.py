"""Payout runs over real ledger postings: every party paid exactly its payable balance,
once, whatever runs concurrently; held parties paid after their details are put right;
negative balances carried; paid and failed posted to the ledger."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.errors import Forbidden
from streamsvc.finance import accounts
from streamsvc.kit.clock import FixedClock
from streamsvc.payouts import approval, details, runs
from streamsvc.payouts.models import PayoutDetails
from tests.payouts.money import (
    account_balance,
    another_event,
    batch,
    give_details,
    ledger_sums_to_zero,
    lines,
    owed,
    party_key,
    run,
    sold_world,
    split,
)

# The event starts ten days after the tests' clock (2026-12-01): it ends on 11 December.
AFTER_THE_DELAY = {"days": 40}


@pytest.fixture
def world(client: TestClient, database: Database, clock: FixedClock) -> Any:
    made = sold_world(client, database, clock)
    clock.advance(**AFTER_THE_DELAY)
    return made


def _approve_and_pay(database: Database, venue_id: str, batch_id: str, clock: FixedClock) -> None:
    with database.unit_of_work() as uow:
        approval.approve(uow.session, venue_id, batch_id, approved_by="stf_bob", now=clock.now())
        runs.mark_paid(uow.session, venue_id, batch_id, executed_on=clock.now().date(),
                       paid_by="stf_bob", now=clock.now())  # fmt: skip


def test_a_run_pays_every_party_exactly_its_payable_balance_once(
    world: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    give_details(database, world, clock.now())
    before = owed(database, world.venue.id)
    assert all(before[party_key(p)] > 0 for p in world.parties)
    batch_id = run(database, settings, world.venue.id, "2026-12", clock.now())
    paid = lines(database, batch_id)
    assert {pid: line.amount for pid, line in paid.items()} == {
        party["id"]: before[party_key(party)] for party in world.parties
    }
    assert all(line.status == "pending" for line in paid.values())
    assert batch(database, batch_id).total == sum(before.values())
    with database.unit_of_work() as uow:
        assert all(runs.claimed_total(uow.session, line.id) == line.amount
                   for line in paid.values())  # fmt: skip
    # payable -> payouts in transit, in the run's own transaction
    assert set(owed(database, world.venue.id).values()) == {0}
    assert account_balance(database, world.venue.id, accounts.PAYOUTS_IN_TRANSIT) == -sum(
        before.values()
    )
    assert ledger_sums_to_zero(database)
    with pytest.raises(runs.NothingDue):  # the same period again pays nothing
        run(database, settings, world.venue.id, "2026-12", clock.now())

    _approve_and_pay(database, world.venue.id, batch_id, clock)
    assert account_balance(database, world.venue.id, accounts.PAYOUTS_IN_TRANSIT) == 0
    assert account_balance(database, world.venue.id, accounts.BANK) == -sum(before.values())
    assert {line.status for line in lines(database, batch_id).values()} == {"paid"}
    assert ledger_sums_to_zero(database)


def test_events_inside_the_delay_wait_for_a_later_run(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    world = sold_world(client, database, clock)
    give_details(database, world, clock.now())
    clock.advance(days=20)  # ended nine days ago: refunds may still come
    with pytest.raises(runs.NothingDue):
        run(database, settings, world.venue.id, "2026-12", clock.now())
    clock.advance(days=6)
    assert run(database, settings, world.venue.id, "2026-12", clock.now())


def test_two_concurrent_runs_pay_once(
    world: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    give_details(database, world, clock.now())
    before = sum(owed(database, world.venue.id).values())
    start = threading.Barrier(2)
    made: list[str] = []
    nothing: list[Exception] = []

    def one() -> None:
        start.wait()
        try:
            made.append(run(database, settings, world.venue.id, "2026-12", clock.now()))
        except runs.NothingDue as exc:
            nothing.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(made) == 1 and len(nothing) == 1
    assert batch(database, made[0]).total == before
    assert account_balance(database, world.venue.id, accounts.PAYOUTS_IN_TRANSIT) == -before
    with database.engine.connect() as conn:
        claims, distinct = conn.execute(
            text("SELECT count(*), count(DISTINCT entry_id) FROM payout_claims")
        ).one()
    assert claims == distinct > 0


def test_the_database_refuses_a_second_claim_on_an_entry(
    world: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    give_details(database, world, clock.now())
    first = run(database, settings, world.venue.id, "2026-12", clock.now())
    other_line = next(iter(lines(database, first).values())).id
    with database.engine.connect() as conn, pytest.raises(IntegrityError):
        conn.execute(text("INSERT INTO payout_claims (entry_id, line_id) "
                          "SELECT entry_id, :l FROM payout_claims LIMIT 1"), {"l": other_line})  # fmt: skip


def test_a_party_with_an_invalid_iban_is_held_then_paid_after_correction(
    world: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    give_details(database, world, clock.now(), skip=2)
    singer = world.parties[2]
    with database.unit_of_work() as uow:  # details from before validation (an import)
        uow.session.add(PayoutDetails(
            id="pdt_imported", venue_id=world.venue.id, party_type="performer",
            party_id=singer["id"], holder="Imported", iban="NL00ABNA0000000000",
            changed_by="import", changed_at=clock.now(), confirmed_by="stf_bob",
            confirmed_at=clock.now()))  # fmt: skip
    owed_singer = owed(database, world.venue.id)[party_key(singer)]
    first = run(database, settings, world.venue.id, "2026-12", clock.now())
    held = lines(database, first)[singer["id"]]
    assert (held.status, held.reason, held.amount, held.left_payable) == (
        "held",
        "invalid_iban",
        0,
        owed_singer,
    )
    assert owed(database, world.venue.id)[party_key(singer)] == owed_singer  # still payable
    # Corrected by Alice: held until someone else confirms.
    with database.unit_of_work() as uow:
        details.change(uow.session, world.venue.id, "performer", singer["id"], holder="Singer",
                       iban="NL91 ABNA 0417 1643 00", bic="", changed_by="stf_alice",
                       now=clock.now())  # fmt: skip
    second = run(database, settings, world.venue.id, "2026-12", clock.now())
    assert lines(database, second)[singer["id"]].reason == "unconfirmed"
    with database.unit_of_work() as uow, pytest.raises(Forbidden):
        details.confirm(uow.session, world.venue.id, "performer", singer["id"],
                        confirmed_by="stf_alice", now=clock.now())  # fmt: skip
    with database.unit_of_work() as uow:
        details.confirm(uow.session, world.venue.id, "performer", singer["id"],
                        confirmed_by="stf_bob", now=clock.now())  # fmt: skip
    third = run(database, settings, world.venue.id, "2026-12", clock.now())
    [paid] = lines(database, third).values()
    assert (paid.party_id, paid.status, paid.amount) == (singer["id"], "pending", owed_singer)
    assert paid.iban == "NL91ABNA0417164300" and paid.bic == "ABNANL2A"
    assert owed(database, world.venue.id)[party_key(singer)] == 0


def test_a_negative_balance_carries_forward_and_nets(
    world: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    give_details(database, world, clock.now())
    first = run(database, settings, world.venue.id, "2026-12", clock.now())
    _approve_and_pay(database, world.venue.id, first, clock)
    # A refund after the payout: the parties' parts of it are negative now.
    world.refund(world.orders[1], 4000)
    split(world, "after-refund")
    negative = owed(database, world.venue.id)
    assert all(value < 0 for value in negative.values())
    with pytest.raises(runs.NothingDue):  # only carries: nobody is paid, nothing is lost
        run(database, settings, world.venue.id, "2027-01", clock.now())
    # Later earnings of the same parties are netted against it.
    later = another_event(world)
    for _ in range(4):
        later.buy([(0, 2)])
    split(later, "second")
    clock.advance(**AFTER_THE_DELAY)
    net = owed(database, world.venue.id)
    earned = {(p["party"]["type"], p["party"]["id"]): p["amount"]
              for p in later.statement()["parties"]}  # fmt: skip
    assert net == {key: earned[key] + negative[key] for key in net}  # the refund is netted
    second = run(database, settings, world.venue.id, "2027-01", clock.now())
    assert {pid: line.amount for pid, line in lines(database, second).items()} == {
        pid: net[(kind, pid)] for kind, pid in net
    }
    assert set(owed(database, world.venue.id).values()) == {0}


def test_a_small_balance_is_carried_and_recorded(
    world: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    give_details(database, world, clock.now())
    before = owed(database, world.venue.id)
    smallest = min(before.values())
    high = settings.model_copy(update={"payout_threshold": smallest + 1})
    batch_id = run(database, high, world.venue.id, "2026-12", clock.now())
    carried = [line for line in lines(database, batch_id).values() if line.status == "carried"]
    assert [(line.reason, line.left_payable) for line in carried] == [("below_threshold", smallest)]
    assert sorted(owed(database, world.venue.id).values()) == [0, 0, smallest]


def test_approval_needs_a_second_member_unless_waived(
    world: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    give_details(database, world, clock.now())
    batch_id = run(database, settings, world.venue.id, "2026-12", clock.now(), by="stf_alice")
    with database.unit_of_work() as uow, pytest.raises(Forbidden) as refused:
        approval.approve(uow.session, world.venue.id, batch_id, approved_by="stf_alice",
                         now=clock.now())  # fmt: skip
    assert refused.value.code == "approve_own_batch"
    with database.engine.connect() as conn, pytest.raises(IntegrityError):  # the database too
        conn.execute(text("UPDATE payout_batches SET approved_by = created_by WHERE id = :b"),
                     {"b": batch_id})  # fmt: skip
    with database.unit_of_work() as uow:
        approval.set_four_eyes_waived(uow.session, world.venue.id, True, clock.now())
    with database.unit_of_work() as uow:
        done = approval.approve(uow.session, world.venue.id, batch_id, approved_by="stf_alice",
                                now=clock.now())  # fmt: skip
        assert (done.status, done.approval_waived) == ("approved", True)
    with database.engine.connect() as conn:
        actions = conn.execute(text(
            "SELECT action FROM audit_entries WHERE venue_id = :v ORDER BY created_at"
        ), {"v": world.venue.id}).scalars().all()  # fmt: skip
    assert {"payout_batch.created", "payout_settings.changed", "payout_batch.approved",
            "payout_details.changed", "payout_details.confirmed"} <= set(actions)  # fmt: skip


def test_mark_failed_returns_the_amount_to_payable_and_the_next_run_pays_it(
    world: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    give_details(database, world, clock.now())
    before = owed(database, world.venue.id)
    first = run(database, settings, world.venue.id, "2026-12", clock.now())
    _approve_and_pay(database, world.venue.id, first, clock)
    singer = world.parties[1]
    failed_line = lines(database, first)[singer["id"]]
    with database.unit_of_work() as uow:  # the bank returned it after execution
        runs.mark_failed(uow.session, world.venue.id, first, failed_line.id,
                         reason="account closed", now=clock.now())  # fmt: skip
    assert owed(database, world.venue.id)[party_key(singer)] == before[party_key(singer)]
    assert account_balance(database, world.venue.id, accounts.BANK) == -(
        sum(before.values()) - failed_line.amount
    )
    second = run(database, settings, world.venue.id, "2026-12", clock.now())
    [again] = lines(database, second).values()
    assert (again.party_id, again.amount) == (singer["id"], failed_line.amount)
    assert ledger_sums_to_zero(database)


def test_a_line_failed_before_execution_leaves_transit(
    world: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    give_details(database, world, clock.now())
    first = run(database, settings, world.venue.id, "2026-12", clock.now())
    line = lines(database, first)[world.parties[0]["id"]]
    with database.unit_of_work() as uow:
        runs.mark_failed(uow.session, world.venue.id, first, line.id, reason="wrong holder",
                         now=clock.now())  # fmt: skip
    with database.unit_of_work() as uow:
        approval.approve(uow.session, world.venue.id, first, approved_by="stf_bob",
                         now=clock.now())  # fmt: skip
        runs.mark_paid(uow.session, world.venue.id, first, executed_on=date(2027, 1, 10),
                       paid_by="stf_bob", now=clock.now())  # fmt: skip
    assert account_balance(database, world.venue.id, accounts.PAYOUTS_IN_TRANSIT) == 0
    assert owed(database, world.venue.id)[party_key(world.parties[0])] == line.amount
