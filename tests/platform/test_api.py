"""The platform operator's key on the JSON API: suspend and resume a venue, and read
the platform's fees per venue and event for a period."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.kit.clock import FixedClock
from streamsvc.platform import statement
from streamsvc.platform.statement import Period
from tests.factories import PLATFORM, make_venue, ok, published_event
from tests.finance.world import build

NOVEMBER = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_the_platform_key_suspends_and_resumes_a_venue(
    client: TestClient, clock: FixedClock
) -> None:
    venue = make_venue(client)
    event = published_event(client, venue, clock.now())
    # Only the platform's key: a venue's own key cannot.
    assert client.post(f"/v1/venues/{venue.id}/suspend", headers=venue.headers).status_code == 401
    state = ok(client.post(f"/v1/venues/{venue.id}/suspend", headers=PLATFORM))
    assert state["id"] == venue.id
    assert datetime.fromisoformat(state["suspended_at"]) == clock.now()
    again = client.post(f"/v1/venues/{venue.id}/suspend", headers=PLATFORM)
    assert again.status_code == 409 and again.json()["error"]["code"] == "venue_suspended"
    refused = client.get("/v1/events", headers=venue.headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "venue_suspended"
    assert client.get(f"/v1/public/events/{event['id']}").status_code == 404
    assert (
        ok(client.post(f"/v1/venues/{venue.id}/resume", headers=PLATFORM))["suspended_at"] is None
    )
    assert client.get("/v1/events", headers=venue.headers).status_code == 200
    assert client.post(f"/v1/venues/{venue.id}/resume", headers=PLATFORM).status_code == 409
    assert client.post("/v1/venues/ven_nosuchvenue/suspend", headers=PLATFORM).status_code == 404


def test_the_platform_fees_are_the_ledgers(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    world = build(client, database, clock, tiers=[(4500, 900, 100)], platform_fee_bps=600,
                  costs=[], shares=[10_000], title="Don Giovanni")  # fmt: skip
    world.buy([(0, 3)])
    reconcile_event(database, world.books, world.event["id"], NOVEMBER, period="2026-11")
    with database.engine.connect() as conn:
        fee = conn.execute(text(
            "SELECT -sum(e.amount) FROM ledger_entries e "
            "JOIN ledger_accounts a ON a.id = e.account_id WHERE a.code = 'platform_fees'"
        )).scalar_one()  # fmt: skip
    answer = ok(client.get("/v1/platform/fees?from=2026-11-01&to=2026-11-30", headers=PLATFORM))
    assert answer["first_day"] == "2026-11-01" and answer["last_day"] == "2026-11-30"
    assert answer["data"] == [{"venue_id": world.venue.id, "venue_name": world.parties[0]["name"],
                               "event_id": world.event["id"], "event_title": "Don Giovanni",
                               "currency": "EUR", "amount": int(fee)}]  # fmt: skip
    assert answer["totals"] == {"EUR": int(fee)} and int(fee) == world.statement()["platform_fee"]
    december = ok(client.get("/v1/platform/fees?from=2026-12-01&to=2026-12-31", headers=PLATFORM))
    assert december["data"] == [] and december["totals"] == {}
    bad = client.get("/v1/platform/fees?from=2026-12-31&to=2026-12-01", headers=PLATFORM)
    assert bad.status_code == 422
    assert client.get("/v1/platform/fees?from=2026-11-01&to=2026-11-30").status_code == 401


def test_a_period_is_counted_in_the_platforms_timezone(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    # Posted at 00:30 on 1 December in Brussels, still 30 November in UTC.
    midnight_past = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    world = build(client, database, clock, tiers=[(4500, 900, 100)], platform_fee_bps=600,
                  costs=[], shares=[10_000], title="Don Carlo")  # fmt: skip
    world.buy([(0, 1)])
    reconcile_event(database, world.books, world.event["id"], midnight_past, period="2026-11")
    december = Period(from_=date(2026, 12, 1), to=date(2026, 12, 31))
    brussels = Period.month_of(midnight_past, "Europe/Brussels")
    assert (brussels.from_, brussels.to) == (date(2026, 12, 1), date(2026, 12, 31))
    assert brussels.start == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert brussels.end == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    with database.unit_of_work() as uow:
        in_utc = statement.fee_statement(uow.session, december)
        in_brussels = statement.fee_statement(uow.session, december.in_zone("Europe/Brussels"))
    assert in_utc == []
    assert [(line.event_title, line.amount) for line in in_brussels] == [
        ("Don Carlo", world.statement()["platform_fee"])
    ]


def test_the_platform_timezone_must_be_a_real_one(settings: Settings) -> None:
    assert settings.model_copy(update={"platform_timezone": "Europe/Brussels"})
    with pytest.raises(ValidationError, match="IANA timezone"):
        Settings.model_validate({**settings.model_dump(), "platform_timezone": "Mars/Olympus"})
