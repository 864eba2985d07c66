"""A venue's event with paid orders, refunds and disputes, built through the API and
signed webhooks, with Stripe's side kept in `StripeBooks`."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from starlette.testclient import TestClient

from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from tests.factories import VenueHandle, make_event, make_performer, make_venue, ok
from tests.finance.books import StripeBooks
from tests.orders import scenarios as s

_serial = itertools.count(1)


@dataclass
class World:
    client: TestClient
    database: Database
    clock: FixedClock
    venue: VenueHandle
    event: dict[str, Any]
    tiers: list[dict[str, Any]]
    # The split rule's parties in its order: type, id and name (None: a venue not made here).
    parties: list[dict[str, Any]] = field(default_factory=list)
    books: StripeBooks = field(default_factory=StripeBooks)
    orders: list[dict[str, Any]] = field(default_factory=list)

    def _settle(self, evt: dict[str, Any]) -> None:
        s.deliver(self.client, evt)
        s.drain(self.database, self.clock)

    def buy(self, lines: list[tuple[int, int]], *, pending: bool = False) -> dict[str, Any]:
        """An order of (tier index, quantity) lines, paid: Stripe charged its total."""
        body = {"email": f"buyer{next(_serial)}@example.org", "country": "NL",
                "items": [{"tier_id": self.tiers[t]["id"], "quantity": q} for t, q in lines]}  # fmt: skip
        order: dict[str, Any] = ok(
            self.client.post(f"/v1/public/events/{self.event['id']}/orders", json=body), 201
        )
        self.books.charge(order["payment"]["payment_intent_id"], order["total_amount"],
                          pending=pending)  # fmt: skip
        self._settle(s.succeeded(order))
        self.orders.append(order)
        return order

    def refund(self, order: dict[str, Any], amount: int) -> str:
        """A refund made at Stripe (the dashboard), reported by charge.refunded."""
        refund_id = f"re_world{next(_serial)}"
        self.books.refund(refund_id, amount)
        self._settle(s.charge_refunded(order, [(refund_id, amount)]))
        return refund_id

    def dispute(self, order: dict[str, Any], *, won: bool | None) -> str:
        """A dispute over the whole order; `won` None leaves it open."""
        dispute_id = f"dp_world{next(_serial)}"
        intent = order["payment"]["payment_intent_id"]
        self.books.dispute(dispute_id, intent, order["total_amount"])
        self._settle(s.dispute(order, dispute_id, "created", "needs_response"))
        if won is not None:
            self.books.close_dispute(dispute_id, won=won)
            self._settle(s.dispute(order, dispute_id, "closed", "won" if won else "lost"))
        return dispute_id

    def statement(self) -> dict[str, Any]:
        url = f"/v1/finance/events/{self.event['id']}/statement"
        result: dict[str, Any] = dict(ok(self.client.get(url, headers=self.venue.headers)))
        return result


def build(
    client: TestClient, database: Database, clock: FixedClock, *,
    tiers: list[tuple[int, int, int | None]], platform_fee_bps: int, costs: list[int],
    shares: list[int], venue: VenueHandle | None = None, title: str = "La Traviata",
    cost_labels: list[str] | None = None, venue_name: str | None = None,
) -> World:  # fmt: skip
    """A hybrid event with tiers of (price, VAT bps, seats in the venue or None for a
    stream), and a split rule giving the venue `shares[0]` bps and one performer each
    of the rest. Costs are labelled `cost 0`, `cost 1`, … unless `cost_labels` says; a
    venue made here is called `venue_name` (the parties then carry every name)."""
    if venue is None:
        venue_name = venue_name or f"Venue {next(_serial)}"
        venue = make_venue(client, name=venue_name)
    event = make_event(client, venue, clock.now(), attendance_mode="hybrid", title=title)
    made = []
    for i, (price, vat, seats) in enumerate(tiers):
        body: dict[str, Any] = {"name": f"Tier {i}", "price_amount": price, "vat_rate_bps": vat,
                                "access": {"quality": "hd", "in_venue": seats is not None}}  # fmt: skip
        if seats is not None:
            body["capacity"] = seats
        url = f"/v1/events/{event['id']}/tiers"
        made.append(ok(client.post(url, headers=venue.headers, json=body), 201))
    performers = [make_performer(client, venue, f"Singer {next(_serial)}") for _ in shares[1:]]
    parties = [{"type": "venue", "id": venue.id}] + [
        {"type": "performer", "id": performer["id"]} for performer in performers
    ]
    labels = cost_labels or [f"cost {i}" for i in range(len(costs))]
    rule = {"platform_fee_bps": platform_fee_bps,
            "costs": [{"label": label, "amount": a, "currency": "EUR"}
                      for label, a in zip(labels, costs, strict=True)],
            "shares": [{"party": p, "bps": b} for p, b in zip(parties, shares, strict=True)]}  # fmt: skip
    ok(client.put(f"/v1/events/{event['id']}/split-rule", json=rule, headers=venue.headers))
    ok(client.post(f"/v1/events/{event['id']}/publish", headers=venue.headers))
    named = [{**parties[0], "name": venue_name}] + [
        {**party, "name": performer["name"]}
        for party, performer in zip(parties[1:], performers, strict=True)
    ]
    return World(client, database, clock, venue, event, made, named)


def ledger(database: Database) -> set[tuple[str, str, int]]:
    """Every entry by transaction reference and account (ids differ between runs)."""
    with database.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT t.reference, a.code, e.amount FROM ledger_entries e "
            "JOIN ledger_transactions t ON t.id = e.transaction_id "
            "JOIN ledger_accounts a ON a.id = e.account_id"
        )).all()  # fmt: skip
    return {(str(ref), str(code), int(amount)) for ref, code, amount in rows}
