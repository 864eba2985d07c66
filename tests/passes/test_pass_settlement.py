"""A pass order's capacity through its payment (orders/settlement.py, the pass branch;
orders/capacity.py's pass counters): paid in time, its hold becomes a sale; paid after
its hold was given back, it takes a pass again, or, sold out meanwhile, all the money
goes back; a hold given back counts no more. The product's counters are read from the
database after each step."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.orders.buying import release_hold
from streamsvc.orders.models import CapacityState, Order, OrderStatus
from streamsvc.passes import buying
from streamsvc.passes.models import PassProduct
from streamsvc.payments.factory import gateway_from_settings
from streamsvc.payments.models import Refund
from tests.conftest import RecordingQueue
from tests.orders import scenarios as s
from tests.passes.season import make_season


def _product(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock, capacity: int
) -> str:
    """A published €40 pass of one concert, `capacity` of them for sale."""
    season = make_season(client, database, settings, clock, concerts=1, price=4000)
    with database.unit_of_work() as uow:
        product = uow.session.get(PassProduct, season.pass_id)
        assert product is not None
        product.capacity = capacity
        uow.session.add(product)
    return season.pass_id


def _buy(database: Database, settings: Settings, clock: FixedClock, pass_id: str,
         email: str) -> dict[str, Any]:  # fmt: skip
    bought = buying.buy_pass(database, gateway_from_settings(settings), settings, clock,
                             pass_id=pass_id, email=email, country="NL", locale="en")  # fmt: skip
    return {"id": bought.order_id, "total_amount": bought.total_amount,
            "currency": bought.currency,
            "payment": {"payment_intent_id": bought.payment_intent_id}}  # fmt: skip


def _pay(client: TestClient, database: Database, clock: FixedClock, order: dict[str, Any]) -> None:
    s.deliver(client, s.succeeded(order))
    s.drain(database, clock)


def _counts(database: Database, pass_id: str) -> tuple[int, int]:
    with database.unit_of_work() as uow:
        product = uow.session.get(PassProduct, pass_id)
        assert product is not None
        return product.sold, product.held


def _order(database: Database, order_id: str) -> Order:
    with database.unit_of_work() as uow:
        order = uow.session.get(Order, order_id)
        assert order is not None
        uow.session.expunge(order)
        return order


def _lapse(database: Database, clock: FixedClock, order_id: str) -> None:
    """The expiry job gave the hold back (its Stripe side is not the point here)."""
    with database.unit_of_work() as uow:
        order = uow.session.exec(select(Order).where(Order.id == order_id).with_for_update()).one()
        release_hold(uow.session, order, OrderStatus.expired, clock.now())


def test_a_pass_paid_in_time_turns_its_hold_into_a_sale(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock,
    followups: RecordingQueue,
) -> None:  # fmt: skip
    pass_id = _product(client, database, settings, clock, capacity=3)
    order = _buy(database, settings, clock, pass_id, "ada@example.org")
    assert _counts(database, pass_id) == (0, 1)
    _pay(client, database, clock, order)
    assert _counts(database, pass_id) == (1, 0)
    paid = _order(database, order["id"])
    assert (paid.status, paid.capacity, paid.paid_amount) == (
        OrderStatus.paid,
        CapacityState.sold,
        4000,
    )
    # PassPaid: its handler asks a worker to mail the pass to its holder, once.
    assert followups.sent.count(("passes.send_pass", (order["id"],))) == 1
    _pay(client, database, clock, order)  # Stripe's redelivery changes nothing
    assert _counts(database, pass_id) == (1, 0)
    assert followups.sent.count(("passes.send_pass", (order["id"],))) == 1


def test_a_hold_given_back_counts_no_more_and_a_late_payment_takes_a_pass_again(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    pass_id = _product(client, database, settings, clock, capacity=2)
    order = _buy(database, settings, clock, pass_id, "bo@example.org")
    _lapse(database, clock, order["id"])
    assert _counts(database, pass_id) == (0, 0)
    assert _order(database, order["id"]).capacity == CapacityState.released
    _pay(client, database, clock, order)  # the money came anyway, and a pass is left
    assert _counts(database, pass_id) == (1, 0)
    paid = _order(database, order["id"])
    assert (paid.status, paid.capacity) == (OrderStatus.paid, CapacityState.sold)
    with database.unit_of_work() as uow:
        assert uow.session.exec(select(Refund).where(Refund.order_id == order["id"])).all() == []


def test_paid_after_its_hold_lapsed_and_the_passes_sold_out_all_the_money_goes_back(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    pass_id = _product(client, database, settings, clock, capacity=1)
    late = _buy(database, settings, clock, pass_id, "cy@example.org")
    _lapse(database, clock, late["id"])
    first = _buy(database, settings, clock, pass_id, "di@example.org")
    _pay(client, database, clock, first)
    assert _counts(database, pass_id) == (1, 0)
    _pay(client, database, clock, late)
    assert _counts(database, pass_id) == (1, 0)  # never more sold than exist
    refused = _order(database, late["id"])
    assert refused.capacity == CapacityState.released
    assert refused.paid_amount == 4000 and refused.refunded_amount == 4000
    with database.unit_of_work() as uow:
        [refund] = uow.session.exec(select(Refund).where(Refund.order_id == late["id"])).all()
        assert (refund.amount, refund.origin) == (4000, "sold_out_after_expiry")
        # The console's order page shows this reason to staff word for word.
        assert refund.reason == "paid after the reservation expired and the passes sold out"
