"""Date-range passes (issue 17): a pass that covers every event of the venue starting
between two dates. It takes in exactly the events inside its dates, each with the
first tier the event page lists; an event joins when it can be claimed, never before
its creation, never before the range grew to take it in, and never into a pass whose
money was already divided; the pass's money divides over the events it covers then,
to the cent; the console sets the dates and refuses them backwards."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.catalog.models import Event, Tier
from streamsvc.db import Database
from streamsvc.errors import Conflict, ValidationFailed
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import cancellation
from streamsvc.orders.models import Order
from streamsvc.passes import claims, coverage, products
from streamsvc.passes.models import (
    Coverage,
    LateRefund,
    PassEvent,
    PassProduct,
    PassShare,
    Weighting,
)
from streamsvc.venues.models import Venue
from tests.console.helpers import console_shop, form_token, hybrid_shop
from tests.factories import VenueHandle, make_event, make_tier, make_venue, ok
from tests.finance.books import StripeBooks
from tests.finance.world import World, build
from tests.passes.season import Season
from tests.staff.helpers import post

HTML = {"Accept": "text/html"}


def _setup(start: datetime, end: datetime, **over: Any) -> products.PassSetup:
    fields: dict[str, Any] = {
        "name": "Every concert of the spring", "description": "", "price_amount": 6000,
        "vat_rate_bps": 2100, "currency": "EUR", "capacity": None, "sales_start": None,
        "sales_end": None, "max_claims": None, "transferable": False,
        "weighting": Weighting.equal, "late_refund": LateRefund.unplayed,
        "coverage": Coverage.date_range, "covers_from": start, "covers_until": end,
    }  # fmt: skip
    return products.PassSetup(**{**fields, **over})


def _concert(client: TestClient, database: Database, clock: FixedClock, venue: VenueHandle,
             title: str, starts: datetime, *, tiers: int = 1) -> World:  # fmt: skip
    """A published concert of the venue starting at `starts`, made now."""
    world = build(client, database, clock, tiers=[(2500, 900, None)] * tiers,
                  platform_fee_bps=500, costs=[], shares=[10_000], venue=venue, title=title)  # fmt: skip
    _move(database, world.event["id"], starts)
    return world


def _move(database: Database, event_id: str, starts: datetime) -> None:
    with database.unit_of_work() as uow:
        event = uow.session.get(Event, event_id)
        assert event is not None
        event.starts_at, event.ends_at = starts, starts + timedelta(hours=2)
        uow.session.add(event)


def _create(database: Database, venue: VenueHandle, setup: products.PassSetup,
            now: datetime) -> str:  # fmt: skip
    with database.unit_of_work() as uow:
        product = products.create_pass(uow.session, venue.id, setup, now)
        return product.id


def _covered(database: Database, pass_id: str) -> dict[str, tuple[str, datetime]]:
    """The pass's events: event id -> (the tier holders take, when it joined)."""
    with database.unit_of_work() as uow:
        rows = uow.session.exec(select(PassEvent).where(PassEvent.pass_id == pass_id)).all()
        return {row.event_id: (row.tier_id, row.added_at) for row in rows}


def _shares(database: Database, holder: dict[str, Any]) -> list[tuple[str, int, int, int]]:
    """The holder's shares in start order of their events: (event, net, VAT, fee)."""
    with database.unit_of_work() as uow:
        rows = uow.session.exec(
            select(PassShare, Event).join(Event, col(Event.id) == col(PassShare.event_id))
            .where(PassShare.holding_id == holder["holding_id"])
            .order_by(col(Event.starts_at))
        ).all()  # fmt: skip
        return [(share.event_id, share.net, share.vat, share.fee) for share, _ in rows]


def _paid_at(database: Database, holder: dict[str, Any]) -> datetime:
    with database.unit_of_work() as uow:
        order = uow.session.get(Order, holder["id"])
        assert order is not None and order.paid_at is not None
        return order.paid_at


def _claim(season: Season, holder: dict[str, Any], event_id: str) -> str:
    """The claim's outcome: claimed, or the code of its refusal."""
    try:
        with season.database.unit_of_work() as uow:
            claims.claim(uow, season.settings, holder["holding_id"], event_id, season.clock.now())
    except Conflict as refused:
        return refused.code
    return "claimed"


def _sync_all(database: Database, now: datetime) -> int:
    with database.unit_of_work() as uow:
        return coverage.sync_all(uow.session, now)


def test_the_pass_covers_the_claimable_events_inside_its_dates_with_their_first_tier(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    venue = make_venue(client, name="Muziekgebouw")
    now = clock.now()
    start, end = now + timedelta(days=20), now + timedelta(days=50)
    before = _concert(client, database, clock, venue, "Before", start - timedelta(days=1))
    first = _concert(client, database, clock, venue, "At the start", start)
    inside = _concert(client, database, clock, venue, "Inside", start + timedelta(days=9), tiers=2)
    at_end = _concert(client, database, clock, venue, "At the end", end)
    after = _concert(client, database, clock, venue, "After", end + timedelta(days=1))
    cancelled = _concert(client, database, clock, venue, "Cancelled", start + timedelta(days=3))
    with database.unit_of_work() as uow:
        cancellation.cancel_event(uow.session, venue.id, cancelled.event["id"], now)
    draft = make_event(client, venue, now, title="Still a draft")
    make_tier(client, venue, draft["id"])
    _move(database, draft["id"], start + timedelta(days=4))
    # The event page lists "Tier 1" first now: holders take it, not the older "Tier 0".
    with database.unit_of_work() as uow:
        for tier in uow.session.exec(select(Tier).where(Tier.event_id == inside.event["id"])):
            tier.position = 1 - tier.position
            uow.session.add(tier)
    clock.advance(minutes=5)
    pass_id = _create(database, venue, _setup(start, end), clock.now())

    assert _covered(database, pass_id) == {
        first.event["id"]: (first.tiers[0]["id"], clock.now()),
        inside.event["id"]: (inside.tiers[1]["id"], clock.now()),
    }
    assert not {before.event["id"], at_end.event["id"], after.event["id"]} & set(
        _covered(database, pass_id)
    )
    # Again, by beat or by hand: nothing changes.
    covered = _covered(database, pass_id)
    clock.advance(minutes=1)
    assert _sync_all(database, clock.now()) == 0
    with database.unit_of_work() as uow:
        product = uow.session.get(PassProduct, pass_id)
        assert product is not None
        assert coverage.sync_date_range(uow.session, product, clock.now()) == 0
    assert _covered(database, pass_id) == covered
    # A draft joins once published, a cancelled event never.
    ok(client.put(f"/v1/events/{draft['id']}/split-rule", headers=venue.headers, json={
        "platform_fee_bps": 0, "costs": [],
        "shares": [{"party": {"type": "venue", "id": venue.id}, "bps": 10_000}]}))  # fmt: skip
    ok(client.post(f"/v1/events/{draft['id']}/publish", headers=venue.headers))
    assert _sync_all(database, clock.now()) == 1
    assert set(_covered(database, pass_id)) == {first.event["id"], inside.event["id"], draft["id"]}
    # Manual changes are refused: the dates decide.
    with database.unit_of_work() as uow, pytest.raises(Conflict) as refused:
        products.remove_event(uow.session, venue.id, pass_id, first.event["id"])
    assert (refused.value.code, refused.value.status) == ("pass_covers_dates", 409)


def test_the_dates_are_checked_and_the_database_refuses_a_range_backwards(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    venue = make_venue(client)
    now = clock.now()
    with database.unit_of_work() as uow, pytest.raises(ValidationFailed) as refused:
        products.create_pass(uow.session, venue.id, _setup(now, now), now)
    assert refused.value.fields == {"covers_until": "after the start of the range"}
    with database.unit_of_work() as uow, pytest.raises(ValidationFailed) as refused:
        products.create_pass(uow.session, venue.id, _setup(now, now, covers_until=None), now)
    assert refused.value.fields == {"covers_until": "required for a date range"}
    with database.unit_of_work() as uow, pytest.raises(ValidationFailed) as refused:
        products.create_pass(uow.session, venue.id,
                             _setup(now, now, coverage=Coverage.series), now)  # fmt: skip
    assert refused.value.fields == {"covers_from": "only for a date range",
                                    "covers_until": "only for a date range"}  # fmt: skip
    pass_id = _create(database, venue, _setup(now, now + timedelta(days=1)), now)
    for statement in (
        "UPDATE season_passes SET covers_until = covers_from WHERE id = :id",
        "UPDATE season_passes SET coverage = 'series' WHERE id = :id",
        "UPDATE season_passes SET range_changed_at = NULL WHERE id = :id",
    ):
        with database.engine.begin() as conn, pytest.raises(IntegrityError) as broken:
            conn.execute(text(statement), {"id": pass_id})
        assert "pass_coverage_range" in str(broken.value)


def test_an_event_made_later_is_covered_only_by_passes_paid_after_and_shares_their_money(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    venue = make_venue(client, name="Paradiso")
    start = clock.now() + timedelta(days=20)
    one = _concert(client, database, clock, venue, "One", start + timedelta(days=1))
    pass_id = _create(database, venue, _setup(start, start + timedelta(days=30)), clock.now())
    with database.unit_of_work() as uow:
        products.set_published(uow.session, venue.id, pass_id, True, clock.now())
    season = Season(client, database, settings, clock, venue, [], pass_id, StripeBooks())
    # Made after the pass, before pass A is paid, and no beat ran: the division of A's
    # payment brings it in first.
    clock.advance(minutes=1)
    two = _concert(client, database, clock, venue, "Two", start + timedelta(days=2))
    clock.advance(minutes=1)
    a = season.buy_pass()
    clock.advance(hours=1)
    three = _concert(client, database, clock, venue, "Three", start + timedelta(days=3))
    made = clock.now()
    clock.advance(minutes=1)
    assert _sync_all(database, clock.now()) == 1
    assert _covered(database, pass_id)[three.event["id"]][1] == made
    clock.advance(hours=1)
    b = season.buy_pass()

    # €60.00 with 21% VAT: VAT 1041 (6000 * 2100 / 12100 = 1041.3), net 4959; Stripe's
    # fee 25 + 1.5% = 115. A covers two events, B three.
    e1, e2, e3 = one.event["id"], two.event["id"], three.event["id"]
    assert _shares(database, a) == [(e1, 2480, 521, 58), (e2, 2479, 520, 57)]
    assert _shares(database, b) == [(e1, 1653, 347, 39), (e2, 1653, 347, 38),
                                    (e3, 1653, 347, 38)]  # fmt: skip
    money = season.money()
    assert money.balanced and money.payments == 12_000
    assert (money.vat, money.deferred) == (2082, 9918)
    assert _claim(season, a, e3) == "not_covered"
    assert _claim(season, b, e3) == "claimed"
    assert _claim(season, a, e2) == "claimed"


def test_widening_the_range_adds_events_for_later_passes_only(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    venue = make_venue(client, name="TivoliVredenburg")
    start = clock.now() + timedelta(days=20)
    end = start + timedelta(days=30)
    inside = _concert(client, database, clock, venue, "Inside", start + timedelta(days=1))
    later = _concert(client, database, clock, venue, "Later", end + timedelta(days=5))
    draft = make_event(client, venue, clock.now(), title="Published late")
    make_tier(client, venue, draft["id"])
    _move(database, draft["id"], start + timedelta(days=2))
    pass_id = _create(database, venue, _setup(start, end), clock.now())
    with database.unit_of_work() as uow:
        products.set_published(uow.session, venue.id, pass_id, True, clock.now())
    season = Season(client, database, settings, clock, venue, [], pass_id, StripeBooks())
    clock.advance(minutes=10)
    a = season.buy_pass()
    assert [row[0] for row in _shares(database, a)] == [inside.event["id"]]

    # The draft existed before A was paid, but A's money is divided: it joins after A.
    clock.advance(minutes=10)
    ok(client.put(f"/v1/events/{draft['id']}/split-rule", headers=venue.headers, json={
        "platform_fee_bps": 0, "costs": [],
        "shares": [{"party": {"type": "venue", "id": venue.id}, "bps": 10_000}]}))  # fmt: skip
    ok(client.post(f"/v1/events/{draft['id']}/publish", headers=venue.headers))
    assert _sync_all(database, clock.now()) == 1
    assert _covered(database, pass_id)[draft["id"]][1] == _paid_at(database, a) + timedelta(
        microseconds=1
    )

    clock.advance(minutes=10)
    widened = clock.now()
    with database.unit_of_work() as uow:
        products.update_pass(uow.session, venue.id, pass_id,
                             _setup(start, end + timedelta(days=10)), widened)  # fmt: skip
    assert _covered(database, pass_id)[later.event["id"]][1] == widened
    clock.advance(minutes=10)
    b = season.buy_pass()
    assert [row[0] for row in _shares(database, b)] == [
        inside.event["id"],
        draft["id"],
        later.event["id"],
    ]
    assert [row[0] for row in _shares(database, a)] == [inside.event["id"]]
    assert _claim(season, a, later.event["id"]) == "not_covered"
    assert _claim(season, a, draft["id"]) == "not_covered"
    assert _claim(season, b, later.event["id"]) == "claimed"

    # Narrowed again: nothing leaves, and the range did not grow.
    clock.advance(minutes=10)
    with database.unit_of_work() as uow:
        products.update_pass(uow.session, venue.id, pass_id, _setup(start, end), clock.now())
        product = uow.session.get(PassProduct, pass_id)
        assert product is not None and product.range_changed_at == widened
    assert len(_covered(database, pass_id)) == 3


def _local(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%dT%H:%M")


def test_the_console_sets_the_dates_shows_the_events_and_keeps_them(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = console_shop(client, queue, database, settings, clock, title="Carmen")
    with database.unit_of_work() as uow:
        venue = uow.session.get(Venue, shop.venue.id)
        assert venue is not None
        timezone = venue.timezone
    start, end = clock.now() + timedelta(days=5), clock.now() + timedelta(days=40)
    form = {
        "name": "Opera spring", "description": "", "price": "60,00", "vat_rate": "21",
        "currency": "EUR", "capacity": "", "max_claims": "", "sales_start": "", "sales_end": "",
        "weighting": "equal", "late_refund": "unplayed", "coverage": "date_range",
        "covers_from": _local(start, timezone), "covers_until": _local(start, timezone),
    }  # fmt: skip
    token = form_token(client.get("/console/passes/new", headers=HTML).text)
    page = client.get("/console/passes/new", headers=HTML).text
    assert 'name="coverage" value="date_range"' in page
    assert "Every event of the venue between two dates" in page

    refused = post(client, "/console/passes/new", form, token=token)
    assert refused.status_code == 422
    assert re.search(r'id="error-covers_until"[^>]*>after the start of the range<', refused.text)
    assert re.search(r'id="pass-covers_until"[^>]*aria-invalid="true"', refused.text)
    assert 'value="date_range" checked' in refused.text  # what was chosen stays chosen
    empty = post(client, "/console/passes/new", {**form, "covers_from": ""}, token=token)
    assert re.search(r'id="error-covers_from"[^>]*>enter a date and time<', empty.text)

    created = post(client, "/console/passes/new",
                   {**form, "covers_until": _local(end, timezone)}, token=token)  # fmt: skip
    assert created.status_code == 303, created.text
    path = created.headers["location"].split("?")[0]
    detail = client.get(path, headers=HTML).text
    assert re.search(r'<dd id="pass-coverage">Every event of the venue from ', detail)
    assert re.search(r"<td>Carmen</td>", detail)
    assert 'name="tier_id"' not in detail and "Take out" not in detail

    # A new event in the dates is on the page at once, without waiting for beat.
    clock.advance(minutes=1)
    newer, _, _ = hybrid_shop(client, shop.venue, clock.now(), title="Tosca")
    assert re.search(r"<td>Tosca</td>", client.get(path, headers=HTML).text)
    kept = post(client, f"{path}/events/{newer['id']}/remove", {}, token=token)
    assert kept.status_code == 409
    assert "its events join by themselves, and stay in it" in kept.text

    # The buyers' page says which dates it covers.
    assert post(client, f"{path}/publish", {"published": "1"}, token=token).status_code == 303
    public = client.get(path.replace("/console/passes/", "/season-passes/"), headers=HTML)
    assert re.search(r'<p id="pass-range">Every event from ', public.text)


def test_beat_covers_the_date_ranges_every_minute_as_a_money_task(settings: Settings) -> None:
    import importlib

    from workers.celery_app import TASK_MODULES, create_celery
    from workers.schedule import beat_schedule

    app = create_celery(settings)
    for module in TASK_MODULES:
        importlib.import_module(module)
    task = app.tasks["passes.cover_date_ranges"]
    assert task.acks_late and task.reject_on_worker_lost
    entry = beat_schedule(settings)["cover-pass-date-ranges"]
    assert entry == {"task": "passes.cover_date_ranges", "schedule": 60,
                     "options": {"expires": 60}}  # fmt: skip
