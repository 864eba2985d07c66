"""Claiming concerts with a pass: a free ticket of the pass's tier, counted against the
pass's limit and the tier's seats; the same ticket when claimed again; refused when
sold out, used up, not covered, or the pass was refunded (which revokes its tickets)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.catalog.models import Tier
from streamsvc.db import Database
from streamsvc.errors import Conflict
from streamsvc.kit.clock import FixedClock
from streamsvc.orders.models import Order, Ticket, TicketStatus
from streamsvc.passes import claims, codes, recognition
from streamsvc.passes.models import PassHolding
from tests.passes.season import Season, make_season


def _claim(season: Season, holder: dict[str, Any], concert: int) -> claims.Claimed:
    with season.database.unit_of_work() as uow:
        return claims.claim(uow, season.settings, holder["holding_id"],
                            season.concerts[concert].event["id"], season.clock.now())  # fmt: skip


def _refused(season: Season, holder: dict[str, Any], concert: int) -> str:
    with pytest.raises(Conflict) as refused:
        _claim(season, holder, concert)
    return refused.value.code


def test_a_claim_is_a_free_ticket_that_watches(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    season = make_season(client, database, settings, clock, concerts=2)
    holder = season.buy_pass()
    first = _claim(season, holder, 0)
    again = _claim(season, holder, 0)
    assert first.new and not again.new
    assert (again.ticket_id, again.ticket_code, again.order_id) == (
        first.ticket_id, first.ticket_code, first.order_id)  # fmt: skip
    with database.unit_of_work() as uow:
        order = uow.session.get(Order, first.order_id)
        tier = uow.session.get(Tier, season.concerts[0].tiers[0]["id"])
        assert order is not None and tier is not None
        assert (order.total_amount, order.paid_amount, order.status) == (0, 0, "paid")
        assert order.event_id == season.concerts[0].event["id"]
        assert order.payment_intent_id is None  # no Stripe call for a claim
        assert tier.sold == 1  # one seat taken, once
    # The watch page's redemption takes the claimed ticket like any other once doors open.
    clock.advance(days=10)
    started = client.post(f"/v1/tickets/{first.ticket_code}/sessions",
                          json={"device_id": "tv"}, headers={"CF-IPCountry": "NL"})  # fmt: skip
    assert started.status_code == 201, started.text
    # The pass mail's link carries the code in the fragment, derived again from the id.
    holding = season.holding(holder)
    code = codes.recover_code(settings, holding.id, holding.code_hash)
    assert code is not None and codes.matches(code, holding.code_hash)
    assert codes.pass_page_link(settings, holding.id, code).endswith(
        f"/passes/{holding.id}#code={code}")  # fmt: skip


def test_sold_out_and_used_up_are_refused(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    season = make_season(client, database, settings, clock, concerts=3, seats=1, max_claims=2)
    one, two = season.buy_pass(), season.buy_pass()
    _claim(season, one, 0)
    assert _refused(season, two, 0) == "sold_out"  # the tier's only seat is taken
    _claim(season, one, 1)
    assert _refused(season, one, 2) == "pass_used_up"  # two claims is its limit
    _claim(season, two, 2)
    with database.unit_of_work() as uow:
        assert uow.session.exec(select(PassHolding).where(
            PassHolding.pass_id == season.pass_id)).all()  # fmt: skip


def test_a_refunded_pass_revokes_its_tickets_and_claims_no_more(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    season = make_season(client, database, settings, clock, concerts=2)
    holder = season.buy_pass()
    claimed = _claim(season, holder, 0)
    with database.unit_of_work() as uow:
        refund = recognition.refund_holding(uow.session, season.venue.id, holder["holding_id"],
                                            clock.now(), reason="asked")  # fmt: skip
        assert refund.amount == 6000  # before its first event: everything
    with database.unit_of_work() as uow:
        ticket = uow.session.get(Ticket, claimed.ticket_id)
        assert ticket is not None and ticket.status == TicketStatus.revoked
    assert _refused(season, holder, 1) == "pass_not_valid"
    assert season.money().balanced


def test_an_event_added_later_covers_only_passes_sold_after(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    from streamsvc.passes import products
    from tests.finance.world import build

    season = make_season(client, database, settings, clock, concerts=1)
    early = season.buy_pass()
    later = build(client, database, clock, tiers=[(2500, 900, None)], platform_fee_bps=500,
                  costs=[], shares=[10_000], venue=season.venue, title="Encore")  # fmt: skip
    clock.advance(minutes=1)
    with database.unit_of_work() as uow:
        products.add_event(uow.session, season.venue.id, season.pass_id, later.event["id"],
                           tier_id=later.tiers[0]["id"], now=clock.now())  # fmt: skip
    season.concerts.append(later)
    clock.advance(minutes=1)
    late = season.buy_pass()
    assert _refused(season, early, 1) == "not_covered"
    assert _claim(season, late, 1).new
    with database.unit_of_work() as uow:
        from streamsvc.passes.models import PassShare

        shares = {(s.holding_id, s.event_id): s.net for s in uow.session.exec(select(PassShare))}
    assert (early["holding_id"], later.event["id"]) not in shares
    assert (late["holding_id"], later.event["id"]) in shares
    assert sum(n for (h, _), n in shares.items() if h == early["holding_id"]) == sum(
        n for (h, _), n in shares.items() if h == late["holding_id"])  # fmt: skip
