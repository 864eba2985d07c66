"""Issue 19, the platform operator: a platform admin onboards a venue, suspends it (its
events vanish from the catalogue, its admin cannot log in, a paid viewer still
watches), resumes it, and reads the platform fee statement, which equals the ledger's
platform fee account."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel import col, select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.audit.models import AuditEntry
from streamsvc.db import Database
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.kit.clock import FixedClock
from streamsvc.venues.models import ApiKey
from tests.conftest import RecordingQueue
from tests.factories import ok
from tests.finance.world import World, build
from tests.platform.helpers import (
    operator_logs_in,
    platform_admin_signed_in,
    platform_form,
    venue_key,
)
from tests.staff.helpers import PASSWORD, accept, browser, csrf, post, send_mails

NOVEMBER = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _onboard(client: TestClient, **over: str) -> Any:
    fields = {"name": "Het Muziekgebouw", "city": "Eindhoven", "country": "NL",
              "currency": "EUR", "timezone": "Europe/Amsterdam",
              "admin_email": "marie@muziekgebouw.example", "admin_name": "Marie Admin", **over}  # fmt: skip
    return platform_form(client, "/platform/venues", fields)


def _venue_id(database: Database, name: str) -> str:
    with database.engine.connect() as conn:
        return str(
            conn.execute(text("SELECT id FROM venues WHERE name = :n"), {"n": name}).scalar_one()
        )


def _actions(database: Database, venue_id: str) -> list[tuple[str, str]]:
    with database.unit_of_work() as uow:
        rows = uow.session.exec(select(AuditEntry).where(AuditEntry.venue_id == venue_id)
                                .order_by(col(AuditEntry.created_at), col(AuditEntry.id)))  # fmt: skip
        return [(row.action, row.actor_kind) for row in rows]


def _ledger_platform_fees(
    database: Database, start: datetime, end: datetime
) -> dict[tuple[str, str | None], int]:
    """The platform fee accounts' credits by venue and event, straight from the ledger."""
    with database.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT t.venue_id, t.event_id, -sum(e.amount) FROM ledger_entries e "
            "JOIN ledger_transactions t ON t.id = e.transaction_id "
            "JOIN ledger_accounts a ON a.id = e.account_id "
            "WHERE a.code = 'platform_fees' AND t.posted_at >= :s AND t.posted_at < :e "
            "GROUP BY t.venue_id, t.event_id"), {"s": start, "e": end}).all()  # fmt: skip
    return {(str(v), e): int(amount) for v, e, amount in rows if amount}


def _statement(
    client: TestClient, start: str, end: str
) -> tuple[dict[tuple[str, str | None], int], dict[str, int]]:
    page = client.get(f"/platform/statement?from={start}&to={end}")
    assert page.status_code == 200, page.text
    lines = {(venue, event or None): int(amount) for venue, event, amount in re.findall(
        r'<tr data-venue="([^"]+)" data-event="([^"]*)" data-amount="(-?\d+)">', page.text)}  # fmt: skip
    totals = {
        c: int(a)
        for c, a in re.findall(r'data-total="([A-Z]{3})" data-amount="(-?\d+)"', page.text)
    }
    return lines, totals


def test_a_platform_admin_onboards_suspends_and_resumes_a_venue_and_reads_its_fees(
    client: TestClient, queue: RecordingQueue, database: Database, settings: Settings,
    clock: FixedClock,
) -> None:  # fmt: skip
    operator = platform_admin_signed_in(client, database, settings, clock.now())

    # Onboarding: the venue, and its first admin invited by mail, who accepts.
    onboarded = _onboard(client)
    assert (
        onboarded.status_code == 303 and onboarded.headers["location"] == "/platform?done=onboarded"
    )
    venue_id = _venue_id(database, "Het Muziekgebouw")
    with database.unit_of_work() as uow:  # no key that nobody was shown
        assert not uow.session.exec(select(ApiKey).where(ApiKey.venue_id == venue_id)).all()
    [link] = send_mails(queue, database, settings, clock.now())
    marie = browser(client, "198.51.100.20")
    assert accept(marie, link).status_code == 303
    assert marie.get("/console", follow_redirects=False).status_code == 200

    # The venue sells an event; a buyer pays and starts watching at doors open.
    venue = venue_key(database, venue_id, clock.now())
    world: World = build(client, database, clock, tiers=[(4500, 900, 200), (1950, 2100, None)],
                         platform_fee_bps=500, costs=[], shares=[10_000], venue=venue,
                         title="Het Concertgebouworkest live")  # fmt: skip
    event_id = world.event["id"]
    paid = world.buy([(1, 1)])
    assert "Het Concertgebouworkest live" in client.get("/").text
    assert event_id in {e["id"] for e in ok(client.get("/v1/public/events"))["data"]}
    [ticket] = ok(client.get(f"/v1/orders/{paid['id']}", headers=venue.headers))["tickets"]
    clock.at = datetime.fromisoformat(world.event["starts_at"]) - timedelta(minutes=30)
    started = ok(client.post(f"/v1/tickets/{ticket['code']}/sessions", json={"device_id": "tv"},
                             headers={"CF-IPCountry": "NL"}), 201)  # fmt: skip
    uri = f"/live/{event_id}/hd/index.m3u8"

    def authorize(token: str) -> int:
        headers = {"X-Original-URI": uri, "Authorization": f"Bearer {token}"}
        return client.get("/v1/viewing/authorize", headers=headers).status_code

    assert authorize(started["token"]) == 204

    # Suspending: everything of the venue closes, except what buyers paid for. (Ten days
    # later: the operator logs in again, with the code.)
    operator_logs_in(client, operator, clock.now())
    fields = {"email": "marie@muziekgebouw.example", "password": PASSWORD}
    assert post(marie, "/console/login", fields, token=csrf(marie)).status_code == 303
    assert marie.get("/console", follow_redirects=False).status_code == 200
    overview = client.get("/platform")
    assert f'data-venue="{venue_id}"' in overview.text and "Eindhoven" in overview.text
    suspended = platform_form(client, f"/platform/venues/{venue_id}/suspend")
    assert (
        suspended.status_code == 303 and suspended.headers["location"] == "/platform?done=suspended"
    )
    assert "Het Concertgebouworkest live" not in client.get("/").text
    assert event_id not in {e["id"] for e in ok(client.get("/v1/public/events"))["data"]}
    assert client.get(f"/events/{event_id}").status_code == 404
    assert client.get(f"/venues/{venue_id}").status_code == 404
    assert client.get(f"/v1/public/events/{event_id}").status_code == 404
    body = {"email": "late@example.org", "country": "NL",
            "items": [{"tier_id": world.tiers[1]["id"], "quantity": 1}]}  # fmt: skip
    assert client.post(f"/v1/public/events/{event_id}/orders", json=body).status_code == 404
    refused = client.get(f"/v1/orders/{paid['id']}", headers=venue.headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "venue_suspended"
    # Marie's session is over, and her login is refused in words.
    gone = marie.get("/console", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/console/login")
    again = post(marie, "/console/login", {"email": "marie@muziekgebouw.example",
                                           "password": PASSWORD}, token=csrf(marie))  # fmt: skip
    assert again.status_code == 403 and "suspended" in again.text
    assert "staff_session" not in again.cookies
    # The paid viewer goes on watching: authorize, heartbeat, and a new device's session.
    assert authorize(started["token"]) == 204
    beat = client.post("/v1/viewing/heartbeat", headers={"X-Viewing-Token": started["token"]})
    assert beat.status_code == 200, beat.text
    assert authorize(beat.json()["token"]) == 204

    # Resuming opens it again.
    resumed = platform_form(client, f"/platform/venues/{venue_id}/resume")
    assert resumed.headers["location"] == "/platform?done=resumed"
    assert "Het Concertgebouworkest live" in client.get("/").text
    assert client.get(f"/v1/orders/{paid['id']}", headers=venue.headers).status_code == 200
    assert post(marie, "/console/login", {"email": "marie@muziekgebouw.example",
                                          "password": PASSWORD}, token=csrf(marie)).status_code == 303  # fmt: skip

    # Each platform action is in the venue's own audit log, by the platform admin.
    actions = _actions(database, venue_id)
    for action in ("venue.onboarded", "venue.suspended", "venue.resumed"):
        assert (action, "platform") in actions, actions

    # The ledger is posted; the platform's statement is its platform fee account.
    world.buy([(0, 2), (1, 1)])
    reconcile_event(database, world.books, event_id, NOVEMBER, period="2026-11")
    lines, totals = _statement(client, "2026-11-01", "2026-11-30")
    ledger = _ledger_platform_fees(
        database, datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    )
    assert lines == ledger and ledger[(venue_id, event_id)] > 0
    assert totals == {"EUR": sum(ledger.values())}
    assert world.statement()["platform_fee"] == ledger[(venue_id, event_id)]
    # And the venue's row on the overview shows the same fees for the period.
    row = client.get("/platform?from=2026-11-01&to=2026-11-30").text
    assert f'data-venue="{venue_id}"' in row
