"""Stripe payouts in the ledger: one Stripe account pays its balance out to the
operator's bank, and each venue's part moves from its Stripe balance to the bank, in
transit first. Payouts arrive as signed `payout.*` webhooks built from Stripe's own
example objects; what a payout contains is Stripe's list of its balance transactions,
answered through the gateway protocol (localstripe lists none per payout). A payout
whose amount is not what its balance transactions pay out, or that pays out nothing
of ours, is the operator's finding: the platform reads it, no venue does. Reconciliation
also lists the payouts at Stripe (localstripe, through the real gateway) and posts those
the ledger lacks: a payout whose webhook never came is posted once, never twice."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.finance import accounts
from streamsvc.finance.payouts_stripe import PayoutPosted, collect_payouts, post_payout
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.kit.clock import FixedClock
from streamsvc.ledger.service import balances
from streamsvc.payments.gateway import BalanceTransaction, PayoutReport
from streamsvc.payments.stripe_gateway import StripeGateway
from tests.conftest import RecordingQueue
from tests.factories import PLATFORM, ok
from tests.finance.books import parse
from tests.finance.world import World, build, ledger
from tests.orders import scenarios as s
from tests.payments.test_stripe_gateway import canned_stripe
from tests.platform.helpers import platform_admin_signed_in
from tests.stripe_helpers import TEST_SECRET_KEY, create_payout, get_object, update_payout
from workers.base import WorkerResources
from workers.celery_app import create_celery
from workers.schedule import beat_schedule

NOVEMBER = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
_ids = itertools.count(1)


class StripePayouts:
    """Stripe's list of balance transactions per payout, as the gateway answers it:
    each payout's charges (Stripe's example balance transactions, with our figures)
    and the payout's own transaction."""

    def __init__(self, *books: World) -> None:
        self.worlds = books
        self.payouts: dict[str, list[dict[str, Any]]] = {}

    def pay_out(
        self, txns: list[dict[str, Any]], amount: int | None = None, **changes: Any
    ) -> dict[str, Any]:
        """A payout of `txns`: Stripe's example payout object, for their net (or for
        `amount`: a payout that does not add up), with `changes`."""
        payout_id = f"po_test{next(_ids)}"
        total = sum(int(txn["net"]) for txn in txns) if amount is None else amount
        own = s.stripe_object("balance_transaction", id=f"txn_po{next(_ids)}", amount=-total,
                              fee=0, net=-total, currency="eur", type="payout",
                              reporting_category="payout", source=payout_id)  # fmt: skip
        self.payouts[payout_id] = [*txns, own]
        return s.stripe_object("payout", id=payout_id, amount=total, currency="eur",
                               status="in_transit", balance_transaction=own["id"],
                               **changes)  # fmt: skip

    def balance_transactions_of_payout(self, payout_id: str) -> list[BalanceTransaction]:
        return [parse(txn) for txn in self.payouts.get(payout_id, [])]

    def charge_payment_intent(self, charge_id: str) -> str | None:
        for world in self.worlds:
            found = world.books.charge_payment_intent(charge_id)
            if found:
                return found
        return None


def _world(client: TestClient, database: Database, clock: FixedClock, title: str) -> World:
    world = build(client, database, clock, tiers=[(4500, 900, 500)], platform_fee_bps=500,
                  costs=[], shares=[10_000], title=title)  # fmt: skip
    for quantity in (1, 2):
        world.buy([(0, quantity)])
    reconcile_event(database, world.books, world.event["id"], NOVEMBER, period="2026-11")
    return world


@pytest.fixture
def two_venues(client: TestClient, database: Database, clock: FixedClock) -> tuple[World, World]:
    opera = _world(client, database, clock, "La Traviata")
    return opera, _world(client, database, clock, "Giselle")


def _report(
    client: TestClient, database: Database, clock: FixedClock, followups: RecordingQueue,
    gateway: StripePayouts, payout: dict[str, Any], status: str,
) -> list[PayoutPosted]:  # fmt: skip
    """Stripe's `payout.<status>` webhook, processed as the worker does: the inbox
    applies it, and the task it enqueues posts the payout."""
    kind = "created" if status == "in_transit" else status
    s.deliver(client, s.event(f"payout.{kind}", {**payout, "status": status}))
    s.drain(database, clock)
    return _run_tasks(database, clock, followups, gateway)


def _run_tasks(
    database: Database, clock: FixedClock, followups: RecordingQueue, gateway: StripePayouts
) -> list[PayoutPosted]:
    tasks = [args[0] for name, args in followups.sent if name == "finance.post_stripe_payout"]
    followups.sent.clear()
    return [post_payout(database, gateway, payout_id, clock.now()) for payout_id in tasks]


def _held(database: Database, world: World) -> dict[str, int]:
    with database.unit_of_work() as uow:
        found = balances(uow.session, world.venue.id, "EUR",
                         [accounts.STRIPE_BALANCE, accounts.BANK_IN_TRANSIT, accounts.BANK])  # fmt: skip
    return {code: found.get(code, 0) for code in ("stripe_balance", "bank_in_transit", "bank")}


def _net(world: World) -> int:
    return sum(int(txn["net"]) for txn in world.books.all())


def _ledger_sums_to_zero(database: Database) -> None:
    with database.engine.connect() as conn:
        unbalanced = conn.execute(text(
            "SELECT t.reference FROM ledger_transactions t "
            "JOIN ledger_entries e ON e.transaction_id = t.id "
            "GROUP BY t.reference HAVING sum(e.amount) <> 0"
        )).all()  # fmt: skip
    assert unbalanced == []


def test_a_payout_of_two_venues_moves_each_ones_part_to_the_bank(
    client: TestClient, database: Database, clock: FixedClock, followups: RecordingQueue,
    two_venues: tuple[World, World],
) -> None:  # fmt: skip
    opera, ballet = two_venues
    for world in two_venues:  # collected and posted: all of it in the Stripe balance
        assert _held(database, world) == {"stripe_balance": _net(world), "bank_in_transit": 0,
                                          "bank": 0}  # fmt: skip
    gateway = StripePayouts(opera, ballet)
    payout = gateway.pay_out([*opera.books.all(), *ballet.books.all()])

    [announced] = _report(client, database, clock, followups, gateway, payout, "in_transit")
    assert (announced.posted, announced.venues, announced.findings) == (2, 2, 0)
    for world in two_venues:
        assert _held(database, world) == {"stripe_balance": 0, "bank_in_transit": _net(world),
                                          "bank": 0}  # fmt: skip

    [paid] = _report(client, database, clock, followups, gateway, payout, "paid")
    assert paid.posted == 2
    for world in two_venues:
        assert _held(database, world) == {"stripe_balance": 0, "bank_in_transit": 0,
                                          "bank": _net(world)}  # fmt: skip
    assert _net(opera) + _net(ballet) == payout["amount"]
    _ledger_sums_to_zero(database)

    # Stripe delivers again, and sends another `payout.paid` of the same payout: the
    # ledger stays as it is.
    before = ledger(database)
    evt = s.event("payout.paid", {**payout, "status": "paid"})
    assert s.deliver(client, evt)["duplicate"] is False
    assert s.deliver(client, evt)["duplicate"] is True
    s.drain(database, clock)
    again = _run_tasks(database, clock, followups, gateway)
    assert [outcome.posted for outcome in again] == [0]
    assert post_payout(database, gateway, payout["id"], clock.now()).posted == 0
    assert ledger(database) == before


def test_a_failed_payout_returns_to_the_stripe_balance(
    client: TestClient, database: Database, clock: FixedClock, followups: RecordingQueue,
    two_venues: tuple[World, World],
) -> None:  # fmt: skip
    opera, ballet = two_venues
    gateway = StripePayouts(opera, ballet)
    payout = gateway.pay_out(opera.books.all())  # the opera's money only
    _report(client, database, clock, followups, gateway, payout, "in_transit")
    assert _held(database, opera)["bank_in_transit"] == _net(opera)

    [failed] = _report(client, database, clock, followups, gateway, payout, "failed")
    assert (failed.posted, failed.venues) == (1, 1)
    assert _held(database, opera) == {"stripe_balance": _net(opera), "bank_in_transit": 0,
                                      "bank": 0}  # fmt: skip
    assert _held(database, ballet) == {"stripe_balance": _net(ballet), "bank_in_transit": 0,
                                       "bank": 0}  # fmt: skip
    # A `payout.paid` delivered late changes nothing: Stripe's last word was failed.
    before = ledger(database)
    assert [o.posted for o in _report(client, database, clock, followups, gateway, payout,
                                      "paid")] == [0]  # fmt: skip
    assert ledger(database) == before
    _ledger_sums_to_zero(database)


def test_a_payout_that_fails_after_it_was_paid_leaves_the_bank_again(
    client: TestClient, database: Database, clock: FixedClock, followups: RecordingQueue,
    two_venues: tuple[World, World],
) -> None:  # fmt: skip
    opera, _ = two_venues
    gateway = StripePayouts(opera)
    payout = gateway.pay_out(opera.books.all())
    _report(client, database, clock, followups, gateway, payout, "paid")
    assert _held(database, opera)["bank"] == _net(opera)
    _report(client, database, clock, followups, gateway, payout, "failed")
    assert _held(database, opera) == {"stripe_balance": _net(opera), "bank_in_transit": 0,
                                      "bank": 0}  # fmt: skip
    _ledger_sums_to_zero(database)


def test_a_balance_transaction_that_is_none_of_ours_is_a_finding(
    client: TestClient, database: Database, clock: FixedClock, followups: RecordingQueue,
    two_venues: tuple[World, World],
) -> None:  # fmt: skip
    opera, _ = two_venues
    stranger = s.stripe_object("balance_transaction", id="txn_stranger", amount=5000, fee=100,
                               net=4900, currency="eur", source="ch_not_ours")  # fmt: skip
    gateway = StripePayouts(opera)
    payout = gateway.pay_out([*opera.books.all(), stranger])
    [outcome] = _report(client, database, clock, followups, gateway, payout, "paid")
    assert (outcome.venues, outcome.findings) == (1, 1)
    # Only our money is posted; the stranger's is named, for someone to look into.
    assert _held(database, opera) == {"stripe_balance": 0, "bank_in_transit": 0,
                                      "bank": _net(opera)}  # fmt: skip
    answer = client.get("/v1/finance/findings", headers=opera.venue.headers)
    assert answer.status_code == 200, answer.text
    found = [f for f in answer.json()["data"] if f["kind"] == "unknown_in_payout"]
    assert [f["reference"] for f in found] == [f"payout:{payout['id']}:txn_stranger"]
    assert "ch_not_ours" in found[0]["detail"]
    # Once, however often the payout is posted again.
    assert post_payout(database, gateway, payout["id"], clock.now()).findings == 0


def _operator_findings(client: TestClient, kind: str) -> list[dict[str, Any]]:
    """The platform's findings of `kind` (the operator's key), newest first."""
    return [f for f in ok(client.get("/v1/platform/findings", headers=PLATFORM))["data"]
            if f["kind"] == kind]  # fmt: skip


def _venue_kinds(client: TestClient, world: World) -> set[str]:
    return {f["kind"] for f in ok(client.get("/v1/finance/findings",
                                             headers=world.venue.headers))["data"]}  # fmt: skip


def test_a_payout_whose_amount_is_not_what_it_pays_out_is_one_operator_finding(
    client: TestClient, database: Database, clock: FixedClock, followups: RecordingQueue,
    two_venues: tuple[World, World],
) -> None:  # fmt: skip
    opera, ballet = two_venues
    gateway = StripePayouts(opera, ballet)
    items = [*opera.books.all(), *ballet.books.all()]
    # Stripe pays 2.50 more into the bank than the nets of what it lists in the payout.
    payout = gateway.pay_out(items, amount=_net(opera) + _net(ballet) + 250)

    [announced] = _report(client, database, clock, followups, gateway, payout, "in_transit")
    assert (announced.posted, announced.venues, announced.findings) == (2, 2, 1)
    [found] = _operator_findings(client, "payout_mismatch")
    assert found["reference"] == f"payout:{payout['id']}" and found["event_id"] is None
    assert (found["amount"], found["currency"]) == (250, "EUR")  # Stripe's minus the items'
    assert str(payout["amount"]) in found["detail"]
    assert str(_net(opera) + _net(ballet)) in found["detail"]
    # The ledger moves each venue's own nets, never the difference; no venue sees it.
    for world in two_venues:
        assert _held(database, world) == {"stripe_balance": 0, "bank_in_transit": _net(world),
                                          "bank": 0}  # fmt: skip
        assert "payout_mismatch" not in _venue_kinds(client, world)

    # Stripe delivers the event again, and reports the payout paid: still one finding.
    before = ledger(database)
    evt = s.event("payout.created", payout)
    assert s.deliver(client, evt)["duplicate"] is False
    assert s.deliver(client, evt)["duplicate"] is True
    s.drain(database, clock)
    assert [o.findings for o in _run_tasks(database, clock, followups, gateway)] == [0]
    assert ledger(database) == before
    [paid] = _report(client, database, clock, followups, gateway, payout, "paid")
    assert (paid.posted, paid.findings) == (2, 0)
    assert [f["id"] for f in _operator_findings(client, "payout_mismatch")] == [found["id"]]
    for world in two_venues:
        assert _held(database, world)["bank"] == _net(world)
    _ledger_sums_to_zero(database)


def test_a_payout_that_adds_up_is_no_finding_though_it_pays_out_returned_money(
    client: TestClient, database: Database, clock: FixedClock, followups: RecordingQueue,
    two_venues: tuple[World, World],
) -> None:  # fmt: skip
    """An earlier payout that failed came back into the balance, and this one pays it out
    again: its amount counts that money, which is none of a venue's charges."""
    opera, _ = two_venues
    returned = s.stripe_object("balance_transaction", id="txn_returned", amount=1200, fee=0,
                               net=1200, currency="eur", type="payout_failure",
                               reporting_category="payout_reversal", source="po_earlier")  # fmt: skip
    gateway = StripePayouts(opera)
    payout = gateway.pay_out([*opera.books.all(), returned])
    assert payout["amount"] == _net(opera) + 1200
    [outcome] = _report(client, database, clock, followups, gateway, payout, "in_transit")
    assert (outcome.posted, outcome.venues, outcome.findings) == (1, 1, 0)
    assert _operator_findings(client, "payout_mismatch") == []


def test_a_payout_of_nobodys_money_is_the_operators_finding(
    client: TestClient, database: Database, clock: FixedClock, followups: RecordingQueue,
    settings: Settings, two_venues: tuple[World, World],
) -> None:  # fmt: skip
    opera, ballet = two_venues
    stranger = s.stripe_object("balance_transaction", id="txn_foreign", amount=5000, fee=100,
                               net=4900, currency="eur", source="ch_someone_elses")  # fmt: skip
    gateway = StripePayouts(opera, ballet)
    payout = gateway.pay_out([stranger])
    before = ledger(database)
    [outcome] = _report(client, database, clock, followups, gateway, payout, "paid")
    assert (outcome.posted, outcome.venues, outcome.findings) == (0, 0, 1)
    assert ledger(database) == before
    [found] = _operator_findings(client, "unknown_in_payout")
    assert found["reference"] == f"payout:{payout['id']}:txn_foreign"
    assert (found["amount"], found["currency"]) == (4900, "EUR")
    assert _operator_findings(client, "payout_mismatch") == []  # it adds up
    for world in two_venues:  # no venue's: none of them reads it
        assert "unknown_in_payout" not in _venue_kinds(client, world)
    assert post_payout(database, gateway, payout["id"], clock.now()).findings == 0
    # The platform console lists it.
    platform_admin_signed_in(client, database, settings, clock.now())
    page = client.get("/platform")
    assert page.status_code == 200, page.text
    row = re.search(rf'<tr data-finding="{found["id"]}" data-kind="unknown_in_payout">(.*?)</tr>',
                    page.text, re.S)  # fmt: skip
    assert row, page.text
    assert f"{payout['id']}:txn_foreign" in row.group(1) and 'data-amount="4900"' in row.group(1)
    assert "Paid out, but none of ours" in row.group(1)


def test_a_payout_stripe_is_still_listing_is_posted_once_the_list_is_complete(
    client: TestClient, database: Database, clock: FixedClock, followups: RecordingQueue,
    two_venues: tuple[World, World],
) -> None:  # fmt: skip
    """Until Stripe's `reconciliation_status` is completed its list may lack some of the
    payout: nothing is posted or compared before `payout.reconciliation_completed`."""
    opera, _ = two_venues
    gateway = StripePayouts(opera)
    payout = gateway.pay_out(opera.books.all(), reconciliation_status="in_progress")
    complete = gateway.payouts[payout["id"]]
    gateway.payouts[payout["id"]] = complete[:1]  # Stripe has listed one charge so far
    before = ledger(database)
    assert _report(client, database, clock, followups, gateway, payout,
                   "in_transit") == [PayoutPosted()]  # fmt: skip
    assert ledger(database) == before and _operator_findings(client, "payout_mismatch") == []

    gateway.payouts[payout["id"]] = complete
    s.deliver(client, s.event("payout.reconciliation_completed",
                              {**payout, "reconciliation_status": "completed"}))  # fmt: skip
    s.drain(database, clock)
    [outcome] = _run_tasks(database, clock, followups, gateway)
    assert (outcome.posted, outcome.venues, outcome.findings) == (1, 1, 0)
    assert _held(database, opera)["bank_in_transit"] == _net(opera)


def test_a_charge_not_collected_yet_is_still_its_venues(
    client: TestClient, database: Database, clock: FixedClock, followups: RecordingQueue,
    two_venues: tuple[World, World],
) -> None:  # fmt: skip
    """A charge paid out before reconciliation stored it: Stripe names its
    PaymentIntent, and that is one of the venue's orders."""
    opera, _ = two_venues
    order = opera.buy([(0, 1)])  # not reconciled
    charge = opera.books.charges[order["payment"]["payment_intent_id"]]
    gateway = StripePayouts(opera)
    payout = gateway.pay_out([charge])
    [outcome] = _report(client, database, clock, followups, gateway, payout, "in_transit")
    assert (outcome.posted, outcome.venues, outcome.findings) == (1, 1, 0)
    assert _held(database, opera)["bank_in_transit"] == charge["net"]


def test_a_payout_nobody_reported_posts_nothing(database: Database, clock: FixedClock) -> None:
    gateway = StripePayouts()
    assert post_payout(database, gateway, "po_never_reported", clock.now()) == PayoutPosted()


def test_the_stripe_gateway_lists_a_payouts_balance_transactions() -> None:
    """The real gateway asks Stripe for the payout's list (`?payout=po_…`) and reads
    each of Stripe's balance transaction objects (localstripe refuses the filter, so a
    canned Stripe answers with Stripe's example objects)."""
    charge = s.stripe_object("balance_transaction", id="txn_charge", amount=4500, fee=92,
                             net=4408, currency="eur", source="ch_1")  # fmt: skip
    own = s.stripe_object("balance_transaction", id="txn_payout", amount=-4408, fee=0,
                          net=-4408, currency="eur", type="payout", source="po_1")  # fmt: skip
    page = {"object": "list", "url": "/v1/balance_transactions", "has_more": False,
            "data": [charge, own]}  # fmt: skip
    with canned_stripe(200, page) as (gateway, server):
        listed = gateway.balance_transactions_of_payout("po_1")
        request = server.received.get(timeout=5)
    assert request.method == "GET" and request.path.startswith("/v1/balance_transactions?")
    assert "payout=po_1" in request.path
    assert listed == [parse(charge), parse(own)]


# -- collected by reconciliation: payouts as Stripe lists them -----------------------------

LOOKBACK = timedelta(days=35)


class LocalStripePayouts(StripeGateway):
    """The real gateway at localstripe, Stripe's list of payouts included, but for what
    localstripe cannot answer: the contents of a payout (it refuses `?payout=`) and the
    worlds' charges (kept in their StripeBooks), which `contents` answers. localstripe
    serves every test of a run: each lists its own payouts only."""

    def __init__(self, api_base: str, contents: StripePayouts) -> None:
        super().__init__(TEST_SECRET_KEY, api_base=api_base)
        self.api_base, self.contents = api_base, contents

    def pay_out_at_stripe(self, txns: list[dict[str, Any]], status: str | None = None) -> str:
        """A payout of `txns` made at localstripe for their net, of which no webhook
        comes; its id."""
        made = create_payout(self.api_base, sum(int(txn["net"]) for txn in txns), status=status)
        own = s.stripe_object("balance_transaction", id=f"txn_po{next(_ids)}",
                              amount=-made["amount"], fee=0, net=-made["amount"],
                              currency="eur", type="payout", reporting_category="payout",
                              source=made["id"])  # fmt: skip
        self.contents.payouts[made["id"]] = [*txns, own]
        return str(made["id"])

    def as_listed(self, payout_id: str) -> dict[str, Any]:
        """The payout as localstripe has it now (a webhook's object)."""
        return get_object(self.api_base, f"/v1/payouts/{payout_id}")

    def recent_payouts(self, created_since: int) -> list[PayoutReport]:
        listed = super().recent_payouts(created_since)
        return [payout for payout in listed if payout.id in self.contents.payouts]

    def balance_transactions_of_payout(self, payout_id: str) -> list[BalanceTransaction]:
        return self.contents.balance_transactions_of_payout(payout_id)

    def charge_payment_intent(self, charge_id: str) -> str | None:
        return self.contents.charge_payment_intent(charge_id)


@pytest.fixture
def stripe(localstripe: str, two_venues: tuple[World, World]) -> Iterator[LocalStripePayouts]:
    gateway = LocalStripePayouts(localstripe, StripePayouts(*two_venues))
    yield gateway
    gateway.close()


def _collect(database: Database, clock: FixedClock, gateway: LocalStripePayouts) -> tuple[int, ...]:
    """A reconciliation pass over payouts: (listed, due, posted, findings, refused)."""
    got = collect_payouts(database, gateway, clock.now(), LOOKBACK)
    return got.listed, got.due, got.posted, got.findings, got.refused


def _payout_references(database: Database, payout_id: str) -> set[str]:
    with database.engine.connect() as conn:
        rows = conn.execute(text("SELECT reference FROM ledger_transactions "
                                 "WHERE reference LIKE :p"), {"p": f"payout:{payout_id}:%"})  # fmt: skip
        return {str(reference) for (reference,) in rows}


def test_a_payout_whose_webhook_never_came_is_posted_by_reconciliation(
    database: Database, clock: FixedClock, two_venues: tuple[World, World],
    stripe: LocalStripePayouts,
) -> None:  # fmt: skip
    opera, ballet = two_venues
    payout = stripe.pay_out_at_stripe([*opera.books.all(), *ballet.books.all()])

    # Listed (pending at Stripe), posted per venue as its `payout.created` would be.
    assert _collect(database, clock, stripe) == (1, 1, 2, 0, 0)
    for world in two_venues:
        assert _held(database, world) == {"stripe_balance": 0, "bank_in_transit": _net(world),
                                          "bank": 0}  # fmt: skip
    assert _payout_references(database, payout) == {
        f"payout:{payout}:{opera.venue.id}", f"payout:{payout}:{ballet.venue.id}"}  # fmt: skip
    before = ledger(database)
    assert _collect(database, clock, stripe) == (1, 0, 0, 0, 0)  # nothing new: nothing asked
    assert ledger(database) == before

    # Stripe pays it into the bank; still no webhook.
    update_payout(stripe.api_base, payout, status="paid")
    assert _collect(database, clock, stripe) == (1, 1, 2, 0, 0)
    for world in two_venues:
        assert _held(database, world) == {"stripe_balance": 0, "bank_in_transit": 0,
                                          "bank": _net(world)}  # fmt: skip
    before = ledger(database)
    assert _collect(database, clock, stripe) == (1, 0, 0, 0, 0)
    assert ledger(database) == before
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM stripe_events "
                                 "WHERE type LIKE 'payout.%'")).scalar_one() == 0  # fmt: skip
    _ledger_sums_to_zero(database)


def test_a_payout_its_webhook_posted_is_not_posted_again_by_reconciliation(
    client: TestClient, database: Database, clock: FixedClock, followups: RecordingQueue,
    two_venues: tuple[World, World], stripe: LocalStripePayouts,
) -> None:  # fmt: skip
    opera, ballet = two_venues
    payout = stripe.pay_out_at_stripe([*opera.books.all(), *ballet.books.all()])
    posted = _report(client, database, clock, followups, stripe.contents,
                     stripe.as_listed(payout), "in_transit")  # fmt: skip
    assert [outcome.posted for outcome in posted] == [2]
    before = ledger(database)
    # Stripe still lists it pending: the webhook's in_transit is the newer word.
    assert _collect(database, clock, stripe) == (1, 0, 0, 0, 0)
    assert ledger(database) == before

    update_payout(stripe.api_base, payout, status="paid")
    posted = _report(client, database, clock, followups, stripe.contents,
                     stripe.as_listed(payout), "paid")  # fmt: skip
    assert [outcome.posted for outcome in posted] == [2]
    before = ledger(database)
    assert _collect(database, clock, stripe) == (1, 0, 0, 0, 0)
    assert ledger(database) == before
    for world in two_venues:
        assert _held(database, world)["bank"] == _net(world)


def test_a_payout_reconciliation_posted_is_not_posted_again_by_its_late_webhook(
    client: TestClient, database: Database, clock: FixedClock, followups: RecordingQueue,
    two_venues: tuple[World, World], stripe: LocalStripePayouts,
) -> None:  # fmt: skip
    opera, _ = two_venues
    payout = stripe.pay_out_at_stripe(opera.books.all(), status="paid")
    assert _collect(database, clock, stripe) == (1, 1, 2, 0, 0)  # in transit, then paid
    before = ledger(database)
    late = _report(client, database, clock, followups, stripe.contents,
                   stripe.as_listed(payout), "paid")  # fmt: skip
    assert [outcome.posted for outcome in late] == [0]
    assert ledger(database) == before
    assert _collect(database, clock, stripe) == (1, 0, 0, 0, 0)


def test_a_payout_whose_posting_never_ran_is_posted_by_reconciliation(
    client: TestClient, database: Database, clock: FixedClock, followups: RecordingQueue,
    two_venues: tuple[World, World], stripe: LocalStripePayouts,
) -> None:  # fmt: skip
    """Its webhook was stored, but the posting it asked for was lost (or gave up)."""
    opera, ballet = two_venues
    payout = stripe.pay_out_at_stripe(ballet.books.all(), status="paid")
    s.deliver(client, s.event("payout.paid", stripe.as_listed(payout)))
    s.drain(database, clock)
    assert followups.names()[-1] == "finance.post_stripe_payout"
    followups.sent.clear()  # the task never runs
    assert _held(database, ballet)["bank"] == 0
    assert _collect(database, clock, stripe) == (1, 1, 2, 0, 0)
    assert _held(database, ballet) == {"stripe_balance": 0, "bank_in_transit": 0,
                                       "bank": _net(ballet)}  # fmt: skip
    assert _held(database, opera)["stripe_balance"] == _net(opera)  # none of its money


def test_a_payout_stripe_will_not_list_the_contents_of_is_left_for_the_next_run(
    database: Database, clock: FixedClock, localstripe: str, two_venues: tuple[World, World],
) -> None:  # fmt: skip
    """localstripe refuses `?payout=` as Stripe may for a manual payout: the pass goes
    on, posts nothing of it, and asks again next time."""
    opera, _ = two_venues
    made = create_payout(localstripe, _net(opera))
    gateway = StripeGateway(TEST_SECRET_KEY, api_base=localstripe)
    before = ledger(database)
    try:
        got = collect_payouts(database, gateway, clock.now(), LOOKBACK)
        again = collect_payouts(database, gateway, clock.now(), LOOKBACK)
    finally:
        gateway.close()
    # Every payout localstripe has (this run's tests made them) is listed and refused.
    assert got.listed >= 1 and got.refused == got.listed and (got.due, got.posted) == (0, 0)
    assert again.refused == again.listed >= got.listed
    assert ledger(database) == before
    with database.engine.connect() as conn:
        row = conn.execute(text("SELECT listed ->> 'status', posted_status FROM stripe_payouts "
                                "WHERE id = :po"), {"po": made["id"]}).one()  # fmt: skip
    assert tuple(row) == ("pending", None)


def test_beats_recent_pass_posts_the_payouts_the_ledger_lacks(
    settings: Settings, database: Database, clock: FixedClock,
    two_venues: tuple[World, World], stripe: LocalStripePayouts,
) -> None:  # fmt: skip
    opera, ballet = two_venues
    payout = stripe.pay_out_at_stripe([*opera.books.all(), *ballet.books.all()], status="paid")
    assert beat_schedule(settings)["reconcile-recent"]["task"] == "finance.reconcile_recent"
    assert settings.stripe_payout_lookback_days == 35
    clock.advance(days=4)  # no event has recent activity: the pass starts no job
    app = create_celery(settings)
    app.loader.import_default_modules()
    app.streamsvc_resources = WorkerResources(settings, app, clock)
    app.streamsvc_resources.gateway = stripe
    try:
        assert app.tasks["finance.reconcile_recent"].apply().get() == 0
        for world in two_venues:
            assert _held(database, world)["bank"] == _net(world)
        assert len(_payout_references(database, payout)) == 4
        before = ledger(database)
        assert app.tasks["finance.reconcile_recent"].apply().get() == 0
        assert ledger(database) == before
    finally:
        app.streamsvc_resources.database.dispose()
