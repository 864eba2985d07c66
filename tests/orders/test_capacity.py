"""No tier sells more than its capacity, under any concurrency: the conditional UPDATE
that holds seats is what guarantees it.

`reserve` first refuses what is visibly gone (a read of the tier: quick answers for a
burst of late buyers), but that read is a snapshot: under concurrency every buyer may
pass it. These tests take that pre-check out of the way, so that the atomic hold alone
must refuse the buyers that would go over capacity, with a clean 409 sold_out, never
an integrity error from the tier's CHECK constraint.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, func, select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.catalog.models import Tier
from streamsvc.db import Database, make_engine
from streamsvc.errors import ServiceError
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import buying, capacity
from streamsvc.orders.models import Order
from streamsvc.orders.schemas import OrderCreate, OrderItemIn
from tests.factories import make_tier, make_venue, published_event

BUYERS, SEATS = 200, 50


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = Database(make_engine(settings.require("database_url"), pool_size=8))
    yield database
    database.dispose()


def _looks_empty(session: Session, tier_id: str) -> Tier:
    """Have the pre-check in `reserve` see the tier as it was before anyone bought (as
    a buyer's request that read it a moment before the rush would): the session keeps
    this snapshot of sold and held, the hold's UPDATE reads the table itself. The
    caller keeps the tier referenced: the identity map holds it only weakly."""
    tier = session.get(Tier, tier_id)
    assert tier is not None
    set_committed_value(tier, "sold", 0)
    set_committed_value(tier, "held", 0)
    return tier


def test_two_hundred_buyers_for_fifty_seats_past_the_pre_check(
    client: TestClient, clock: FixedClock, settings: Settings, database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    venue = make_venue(client)
    event = published_event(client, venue, clock.now())
    tier_id = make_tier(client, venue, event["id"], name="Stalls", capacity=SEATS)["id"]
    # Count the buyers that reach the hold (the real one, called through).
    holds: list[bool] = []
    real_hold = capacity.hold

    def hold(session: Session, tier: str, quantity: int) -> bool:
        held = real_hold(session, tier, quantity)
        holds.append(held)
        return held

    monkeypatch.setattr(capacity, "hold", hold)

    def buyer(i: int) -> str:
        data = OrderCreate(email=f"buyer{i}@example.org", country="NL",
                           items=[OrderItemIn(tier_id=tier_id, quantity=1)])  # fmt: skip
        try:
            with database.unit_of_work() as uow:
                snapshot = _looks_empty(uow.session, tier_id)
                buying.reserve(uow.session, event["id"], data, locale="en", now=clock.now(),
                               settings=settings)  # fmt: skip
                assert snapshot.held == 0  # what the pre-check saw
        except ServiceError as exc:
            return f"{exc.status} {exc.code}"
        except Exception as exc:
            return f"500 {type(exc).__name__}: {str(exc)[:120]}"
        return "201 reserved"

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = Counter(pool.map(buyer, range(BUYERS)))
    assert outcomes == {"201 reserved": SEATS, "409 sold_out": BUYERS - SEATS}, outcomes
    assert len(holds) == BUYERS, "the pre-check refused some buyers: the hold was not tested"
    with database.unit_of_work() as uow:
        tier = uow.session.get(Tier, tier_id)
        assert tier is not None
        assert (tier.held, tier.sold) == (SEATS, 0)
        orders = uow.session.exec(
            select(func.count()).select_from(Order).where(Order.event_id == event["id"])
        ).one()
    assert orders == SEATS  # a refused buyer left no order behind


def test_hold_and_take_stop_exactly_at_capacity(
    client: TestClient, clock: FixedClock, database: Database
) -> None:
    venue = make_venue(client)
    event = published_event(client, venue, clock.now())
    tier_id = make_tier(client, venue, event["id"], name="Boxes", capacity=5)["id"]

    def counts() -> Any:
        with database.unit_of_work() as uow:
            tier = uow.session.get(Tier, tier_id)
            assert tier is not None
            return tier.held, tier.sold

    for quantity, held in ((3, True), (3, False), (2, True), (1, False)):
        with database.unit_of_work() as uow:
            assert capacity.hold(uow.session, tier_id, quantity) is held, quantity
    assert counts() == (5, 0)
    with database.unit_of_work() as uow:
        capacity.release(uow.session, tier_id, 2)
    for quantity, taken in ((3, False), (2, True), (1, False)):
        with database.unit_of_work() as uow:
            assert capacity.take(uow.session, tier_id, quantity) is taken, quantity
    assert counts() == (3, 2)
