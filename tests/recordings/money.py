"""A recording sold for money, with Stripe's side kept in `StripeBooks`: a venue's
archive recording with a rental (€4.99) and a purchase (€12.99) at 21 % VAT, shared
50/30/20 by an estate, a label (rights holders) and the venue itself, after the
platform's 5 % and €20.00 of restoration costs. Orders go through the public API and
signed webhooks; `reconcile` runs the finance road for the recording."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from starlette.testclient import TestClient

from streamsvc.db import Database
from streamsvc.finance.reconciliation import Outcome, reconcile
from streamsvc.kit.clock import FixedClock
from tests.factories import VenueHandle, make_venue, ok
from tests.finance.books import StripeBooks
from tests.orders import scenarios as s
from tests.recordings.helpers import PURCHASE, RENTAL, make_holder, make_recording, put_offers

_serial = itertools.count(1)
RESTORATION = 2000


@dataclass
class Archive:
    client: TestClient
    database: Database
    clock: FixedClock
    venue: VenueHandle
    recording: dict[str, Any]
    offers: dict[str, str]  # kind -> offer id
    estate: dict[str, Any]
    label: dict[str, Any]
    books: StripeBooks = field(default_factory=StripeBooks)
    orders: list[dict[str, Any]] = field(default_factory=list)

    def _settle(self, evt: dict[str, Any]) -> None:
        s.deliver(self.client, evt)
        s.drain(self.database, self.clock)

    def sell(self, kind: str) -> dict[str, Any]:
        """A paid order of the offer: Stripe charged its price (with its card fee)."""
        body = {"offer_id": self.offers[kind], "email": f"fan{next(_serial)}@example.org",
                "country": "NL"}  # fmt: skip
        url = f"/v1/public/recordings/{self.recording['id']}/orders"
        order: dict[str, Any] = ok(self.client.post(url, json=body), 201)
        self.books.charge(order["payment"]["payment_intent_id"], order["total_amount"])
        self._settle(s.succeeded(order))
        self.orders.append(order)
        return order

    def refund(self, order: dict[str, Any], amount: int) -> str:
        """A refund made at Stripe (the dashboard), reported by charge.refunded."""
        refund_id = f"re_archive{next(_serial)}"
        self.books.refund(refund_id, amount)
        self._settle(s.charge_refunded(order, [(refund_id, amount)]))
        return refund_id

    def reconcile(self, period: str = "2026-12") -> Outcome:
        return reconcile(self.database, self.books, "recording", self.recording["id"],
                         self.clock.now(), period=period)  # fmt: skip


def open_archive(
    client: TestClient, database: Database, clock: FixedClock, venue: VenueHandle | None = None
) -> Archive:
    """The recording published, its offers on sale (the settings must allow paid sales);
    of `venue` when given (one with a signed-in admin, say), else of a new venue."""
    venue = venue or make_venue(client)
    recording = make_recording(client, venue)
    offers = put_offers(client, venue, recording["id"], rental=RENTAL, purchase=PURCHASE)
    estate = make_holder(client, venue, "Estate of Bill Evans")
    label = make_holder(client, venue, "Riverside Records")
    rule = {
        "platform_fee_bps": 500,
        "costs": [{"label": "Restoration", "amount": RESTORATION, "currency": "EUR"}],
        "shares": [
            {"party": {"type": "rights_holder", "id": estate["id"]}, "bps": 5000},
            {"party": {"type": "rights_holder", "id": label["id"]}, "bps": 3000},
            {"party": {"type": "venue", "id": venue.id}, "bps": 2000},
        ],
    }
    ok(client.put(f"/v1/recordings/{recording['id']}/split-rule", json=rule,
                  headers=venue.headers))  # fmt: skip
    published = ok(client.post(f"/v1/recordings/{recording['id']}/publish", headers=venue.headers))
    return Archive(
        client, database, clock, venue, published,
        {offer["kind"]: offer["id"] for offer in offers["data"]}, estate, label,
    )  # fmt: skip
