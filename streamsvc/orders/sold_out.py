"""Tiers seen sold out, remembered for a moment by each API process, so that a burst of
buyers for the last seats hears "sold out" without a transaction each.

When the database refuses an order as sold out (the pre-check's read or the hold,
orders/buying.py), the process remembers what the order's tiers had left, for
`STREAMSVC_ORDER_SOLD_OUT_CACHE_SECONDS` (default 1) on the service's clock. Within
that time an order that asks more of one of these tiers than they had left is refused
here, with the same 409 sold_out the database gave, before any transaction; without an
Idempotency-Key also before the rate limit and the wait for a worker thread (the API
route), with one a read of the key first (a replay answers what the first request did).

Only ever a refusal: what the memory says is "not enough", never "enough"; an order
it does not refuse goes to the database, and the conditional UPDATE of the hold
(orders/capacity.py) stays the only authority on a sale. The price of the memory: a
seat given back (a hold expired, an order cancelled, a capacity raised) can be refused
to the next buyers for at most that time, on a process that saw the tier sold out.

It answers only orders it can judge as the database would: every item of a tier it
remembers, no pay-what-you-want amount, no tier twice, no quantity over the limit,
and a country the event allows; anything else goes to the database, which reports
what is wrong. One thing it cannot see: an event whose sales closed within that time
is still answered "sold out" rather than "sales closed", until the memory lapses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from streamsvc.orders.buying import SoldOut
from streamsvc.orders.schemas import OrderCreate

_LIMIT = 10_000  # tiers remembered per process at most (ids come from URLs)


@dataclass(frozen=True)
class _Seen:
    seats: int | None  # what the tier had left when an order was refused (None: no limit)
    at: datetime


class SoldOutMemory:
    """What one process saw sold out, by event and tier; thread-safe (each entry is
    replaced whole, by one atomic operation of a dict)."""

    def __init__(self, ttl: timedelta) -> None:
        self.ttl = ttl
        self._tiers: dict[tuple[str, str], _Seen] = {}
        self._countries: dict[str, tuple[str, ...]] = {}  # by event (empty: all)

    def refusal(
        self, event_id: str, order: OrderCreate, now: datetime, max_quantity: int
    ) -> SoldOut | None:
        """The database's SoldOut again, if this order asks for seats seen gone."""
        if not self._tiers:
            return None
        seen = [self._tiers.get((event_id, item.tier_id)) for item in order.items]
        left = {item.tier_id: s.seats for item, s in zip(order.items, seen, strict=True)
                if s is not None and s.at <= now < s.at + self.ttl}  # fmt: skip
        countries = self._countries.get(event_id, ())
        if (
            len(left) != len(order.items)  # a tier not seen (or twice in the order)
            or any(item.amount is not None or item.quantity > max_quantity for item in order.items)
            or (countries and order.country not in countries)
        ):
            return None  # the database judges it: an error of its own comes before sold out
        for i, item in enumerate(order.items):
            seats = left[item.tier_id]
            if seats is not None and item.quantity > seats:
                return SoldOut(i, seats, left, countries)
        return None

    def remember(self, event_id: str, refusal: SoldOut, now: datetime) -> None:
        if self.ttl <= timedelta(0):
            return
        if len(self._tiers) >= _LIMIT:
            self._tiers.clear()
            self._countries.clear()
        self._countries[event_id] = refusal.countries
        for tier_id, seats in refusal.left.items():
            self._tiers[(event_id, tier_id)] = _Seen(seats, now)

    def forget(self, event_id: str, tier_ids: list[str]) -> None:
        """This process gave seats of these tiers back: ask the database again."""
        for tier_id in tier_ids:
            self._tiers.pop((event_id, tier_id), None)
