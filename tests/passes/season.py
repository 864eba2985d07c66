"""A concert series with a season pass, built through the API (events, tiers, tickets)
and the passes services (the pass, its buyers), with Stripe's side in `StripeBooks`."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from config.settings import Settings
from streamsvc.catalog.models import Event
from streamsvc.db import Database
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.finance.statement import statement
from streamsvc.kit.clock import FixedClock
from streamsvc.passes import buying, products, recognition
from streamsvc.passes.models import LateRefund, PassHolding, Weighting
from streamsvc.payments.factory import gateway_from_settings
from tests.factories import VenueHandle, make_venue
from tests.finance.books import StripeBooks
from tests.finance.world import World, build
from tests.orders import scenarios as s

_serial = itertools.count(1)


def largest_remainder(total: int, weights: list[int]) -> list[int]:
    """The test's own largest-remainder division (ties to the earlier part), to check
    the service's shares against."""
    whole = sum(weights)
    floors = [total * w // whole for w in weights]
    rests = [total * w % whole for w in weights]
    left = total - sum(floors)
    for i in sorted(range(len(weights)), key=lambda i: (-rests[i], i))[:left]:
        floors[i] += 1
    return floors


@dataclass
class Season:
    client: Any
    database: Database
    settings: Settings
    clock: FixedClock
    venue: VenueHandle
    concerts: list[World]
    pass_id: str
    books: StripeBooks = field(default_factory=StripeBooks)
    holders: list[dict[str, Any]] = field(default_factory=list)

    def buy_pass(self) -> dict[str, Any]:
        """A holder buys the pass and pays; Stripe reports the charge; it is posted."""
        gateway = gateway_from_settings(self.settings)
        bought = buying.buy_pass(
            self.database, gateway, self.settings, self.clock, pass_id=self.pass_id,
            email=f"holder{next(_serial)}@example.org", country="NL", locale="en",
        )  # fmt: skip
        order = {"id": bought.order_id, "total_amount": bought.total_amount,
                 "currency": bought.currency,
                 "payment": {"payment_intent_id": bought.payment_intent_id}}  # fmt: skip
        self.books.charge(str(bought.payment_intent_id), bought.total_amount)
        s.deliver(self.client, s.succeeded(order))
        s.drain(self.database, self.clock)
        assert recognition.collect_payment(self.database, self.books, bought.order_id,
                                           self.clock.now())  # fmt: skip
        holder = {**order, "holding_id": bought.holding_id}
        self.holders.append(holder)
        return holder

    def end(self, index: int) -> None:
        """Concert `index` ends: its tickets are reconciled, then its pass shares settled."""
        concert = self.concerts[index]
        with self.database.unit_of_work() as uow:
            ends = uow.session.get(Event, concert.event["id"])
            assert ends is not None
            ends_at = ends.ends_at
        if self.clock.now() < ends_at:
            self.clock.advance(seconds=(ends_at - self.clock.now()).total_seconds() + 60)
        self.settle(index)

    def settle(self, index: int) -> int:
        event_id = self.concerts[index].event["id"]
        now = self.clock.now()
        reconcile_event(self.database, self.books, event_id, now, period=f"p{now:%j%H%M}")
        return recognition.settle_event(self.database, event_id, now)

    def statement(self, index: int) -> Any:
        with self.database.unit_of_work() as uow:
            event = uow.session.get(Event, self.concerts[index].event["id"])
            assert event is not None
            return statement(uow.session, event)

    def money(self) -> recognition.PassMoney:
        with self.database.unit_of_work() as uow:
            return recognition.pass_money(uow.session, self.pass_id)

    def holding(self, holder: dict[str, Any]) -> PassHolding:
        with self.database.unit_of_work() as uow:
            found = uow.session.get(PassHolding, holder["holding_id"])
            assert found is not None
            return found


def make_season(
    client: Any, database: Database, settings: Settings, clock: FixedClock, *,
    concerts: int = 4, price: int = 6000, vat_bps: int = 900,
    weighting: Weighting = Weighting.equal, late_refund: LateRefund = LateRefund.unplayed,
    tier_prices: list[int] | None = None, seats: int | None = 100, max_claims: int | None = None,
) -> Season:  # fmt: skip
    venue = make_venue(client, name=f"Concertgebouw {next(_serial)}")
    books = StripeBooks()
    worlds = []
    for i in range(concerts):
        price_i = (tier_prices or [2500] * concerts)[i]
        world = build(client, database, clock, tiers=[(price_i, 900, seats)], platform_fee_bps=500,
                      costs=[], shares=[6000, 4000], venue=venue, title=f"Concert {i + 1}")  # fmt: skip
        world.books = books
        worlds.append(world)
    now = clock.now()
    with database.unit_of_work() as uow:
        product = products.create_pass(uow.session, venue.id, products.PassSetup(
            name="Season 2027", description="Four concerts", price_amount=price,
            vat_rate_bps=vat_bps, currency="EUR", capacity=None, sales_start=None,
            sales_end=None, max_claims=max_claims, transferable=False, weighting=weighting,
            late_refund=late_refund,
        ), now)  # fmt: skip
        for i, world in enumerate(worlds):
            _move(uow.session, world.event["id"], now + timedelta(days=10 + 7 * i))
            products.add_event(uow.session, venue.id, product.id, world.event["id"],
                               tier_id=world.tiers[0]["id"], now=now)  # fmt: skip
        products.set_published(uow.session, venue.id, product.id, True, now)
        pass_id = product.id
    return Season(client, database, settings, clock, venue, worlds, pass_id, books)


def _move(session: Any, event_id: str, starts: datetime) -> None:
    """Concerts a week apart (the factory puts every event at the same time)."""
    event = session.get(Event, event_id)
    event.starts_at, event.ends_at = starts, starts + timedelta(hours=2)
    session.add(event)
