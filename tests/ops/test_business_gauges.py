"""The business gauges of /metrics: exact figures from data made as the product makes it
(orders bought and paid by signed webhooks, players redeeming and sending heartbeats on
the injected clock, a finding acknowledged on the console page), and a scrape that
still answers when PostgreSQL or Redis does not."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.db import Database, make_engine
from streamsvc.finance.findings import record_finding
from streamsvc.kit.clock import FixedClock
from streamsvc.kit.events import DomainEvent
from streamsvc.ledger.models import ReconciliationFinding
from streamsvc.outbox.bus import MessageBus
from tests.console.helpers import console_shop, form_token
from tests.factories import buy, make_event, make_tier, make_venue, ok, put_split_rule
from tests.orders import scenarios as s

GAUGES = ("viewers_watching", "orders_paid_last_minute", "webhook_inbox_backlog",
          "outbox_backlog", "reconciliation_findings_open")  # fmt: skip


def _scrape(client: TestClient) -> dict[str, float]:
    """The sample lines of /metrics: "name{labels}" -> value."""
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    found: dict[str, float] = {}
    for line in answer.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


def _gauges(samples: dict[str, float]) -> dict[str, float]:
    return {name: samples[f"streamsvc_{name}"] for name in GAUGES if f"streamsvc_{name}" in samples}


def _errors(samples: dict[str, float]) -> dict[str, float]:
    prefix = 'streamsvc_metrics_scrape_errors_total{gauge="'
    return {k.removeprefix(prefix).removesuffix('"}'): v
            for k, v in samples.items() if k.startswith(prefix)}  # fmt: skip


@dataclass(frozen=True)
class GaugeProbe(DomainEvent):
    """A durable event whose handler fails for the numbers in `Undelivered.failing`."""

    durable: ClassVar[bool] = True
    n: int


class Undelivered:
    failing = frozenset({1, 2, 3})

    def __call__(self, event: GaugeProbe) -> None:
        if event.n in self.failing:
            raise ConnectionError("the broker is unreachable")


def _pending_outbox_messages(settings: Settings) -> None:
    """Four durable events; the handlers of three fail, so they wait in the outbox."""
    bus = MessageBus()
    bus.register(GaugeProbe, Undelivered())
    database = Database(make_engine(settings.require("database_url"), pool_size=1), bus=bus)
    try:
        with database.unit_of_work() as uow:
            for n in (1, 2, 3, 4):
                uow.emit(GaugeProbe(n))
    finally:
        database.dispose()


def _redeem(client: TestClient, code: str, device: str) -> dict[str, Any]:
    started: dict[str, Any] = ok(client.post(f"/v1/tickets/{code}/sessions",
                                             json={"device_id": device},
                                             headers={"CF-IPCountry": "NL"}), 201)  # fmt: skip
    return started


def _codes(client: TestClient, headers: dict[str, str], order_id: str) -> list[str]:
    return [t["code"] for t in ok(client.get(f"/v1/orders/{order_id}", headers=headers))["tickets"]]


@pytest.mark.stripe
def test_the_gauges_count_viewers_orders_backlogs_and_open_findings_exactly(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    t0 = clock.now()  # 12:00:00
    # Live: doors open at 11:50, on from 12:20 until 14:00.
    shop = console_shop(client, queue, database, settings, clock,
                        starts_at=(t0 + timedelta(minutes=20)).isoformat(),
                        ends_at=(t0 + timedelta(hours=2)).isoformat())  # fmt: skip
    live, stream = shop.event["id"], shop.stream_tier
    # Over at 12:30, its replay watchable for 48 hours.
    replay = make_event(client, shop.venue, t0, starts_at=(t0 + timedelta(minutes=10)).isoformat(),
                        ends_at=(t0 + timedelta(minutes=30)).isoformat(), replay_hours=48)["id"]  # fmt: skip
    rewatch = make_tier(client, shop.venue, replay,
                        access={"quality": "hd", "rewatch_hours": 48})["id"]  # fmt: skip
    put_split_rule(client, shop.venue, replay)
    ok(client.post(f"/v1/events/{replay}/publish", headers=shop.venue.headers))
    assert _gauges(_scrape(client)) == dict.fromkeys(GAUGES, 0)

    # Two findings; a finance member acknowledges one on the console page.
    with database.unit_of_work() as uow:
        for reference in ("bt:txn_open", "bt:txn_acknowledged"):
            record_finding(uow.session, shop.venue.id, live, kind="amount_mismatch",
                           reference=reference, detail="Stripe reports 4500, we recorded 4400",
                           now=clock.now())  # fmt: skip
        finding_id = uow.session.exec(
            select(ReconciliationFinding.id)
            .where(ReconciliationFinding.reference == "bt:txn_acknowledged")
        ).one()  # fmt: skip
    assert _gauges(_scrape(client))["reconciliation_findings_open"] == 2
    url = f"/console/finance/reconciliation/findings/{finding_id}"
    done = client.post(url, follow_redirects=False,
                       data={"csrf_token": form_token(client.get(url).text),
                             "note": "Stripe corrected its fee.", "confirm": "yes"})  # fmt: skip
    assert done.headers["location"] == "/console/finance/reconciliation?done=acknowledged"

    # Paid at 12:00, long before the scrape: tickets to watch with.
    early = [buy(client, live, stream, quantity=2), buy(client, replay, rewatch)]
    for order in early:
        s.deliver(client, s.succeeded(order))
    s.drain(database, clock)
    lapsing, watching = _codes(client, shop.venue.headers, early[0]["id"])
    [rewatching] = _codes(client, shop.venue.headers, early[1]["id"])
    recent = [buy(client, live, stream), buy(client, live, stream)]
    unprocessed = buy(client, live, stream)

    clock.advance(seconds=34 * 60 + 29)  # 12:34:29
    _redeem(client, lapsing, "tv")
    session = _redeem(client, watching, "laptop")
    clock.advance(seconds=231)  # 12:38:20: one player plays on
    ok(client.post("/v1/viewing/heartbeat", headers={"X-Viewing-Token": session["token"]}))
    clock.advance(seconds=70)  # 12:39:30: two orders paid in the last minute
    for order in recent:
        s.deliver(client, s.succeeded(order))
    s.drain(database, clock)
    clock.advance(seconds=20)  # 12:39:50: the replay's viewer starts
    _redeem(client, rewatching, "phone")
    clock.advance(seconds=10)  # 12:40:00
    s.deliver(client, s.succeeded(unprocessed))  # received; no worker took it yet

    _pending_outbox_messages(settings)

    samples = _scrape(client)
    # Watching: the heartbeat's player (100 s ago) and the replay's (10 s ago); the tv's
    # player, silent for 331 s, is past a token's lifetime and leeway (330 s).
    assert _gauges(samples) == {
        "viewers_watching": 2,
        "orders_paid_last_minute": 2,
        "webhook_inbox_backlog": 1,
        "outbox_backlog": 3,
        "reconciliation_findings_open": 1,
    }
    assert _errors(samples) == {}

    clock.advance(seconds=31)  # 12:40:31: the recent orders were paid 61 s ago
    assert _gauges(_scrape(client))["orders_paid_last_minute"] == 0


@pytest.fixture
def broken_redis(settings: Settings, clock: FixedClock) -> Iterator[TestClient]:
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0",
                                         "celery_broker_url": "redis://127.0.0.1:1/1"})  # fmt: skip
    with TestClient(create_app(broken, clock), raise_server_exceptions=False) as client:
        yield client


def test_redis_not_answering_leaves_only_the_viewers_out(
    client: TestClient, broken_redis: TestClient, clock: FixedClock, settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    venue = make_venue(client)
    make_event(
        client, venue, clock.now(), starts_at=(clock.now() + timedelta(minutes=5)).isoformat()
    )
    _pending_outbox_messages(settings)

    with caplog.at_level(logging.WARNING, logger="streamsvc.ops.figures"):
        first, second = _scrape(broken_redis), _scrape(broken_redis)
    assert _gauges(first) == _gauges(second) == {
        "orders_paid_last_minute": 0, "webhook_inbox_backlog": 0, "outbox_backlog": 3,
        "reconciliation_findings_open": 0,
    }  # fmt: skip
    assert _errors(first) == {"viewers_watching": 1}
    assert _errors(second) == {"viewers_watching": 2}
    said = [r.getMessage() for r in caplog.records if r.name == "streamsvc.ops.figures"]
    assert len(said) == 1 and said[0].startswith(
        "Redis (viewers watching, of /metrics) unreachable"
    )


def test_the_database_not_answering_leaves_its_gauges_out_not_the_answer(
    settings: Settings, clock: FixedClock
) -> None:
    broken = settings.model_copy(
        update={"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    )
    with TestClient(create_app(broken, clock), raise_server_exceptions=False) as client:
        client.get("/healthz")
        samples = _scrape(client)
    assert _gauges(samples) == {}
    assert _errors(samples) == dict.fromkeys(GAUGES, 1)
    healthz = 'streamsvc_http_requests_total{method="GET",route="/healthz",status="200"}'
    assert samples[healthz] == 1
