"""No secret reaches a log: a whole buy-and-view flow runs through the API with every
logger at DEBUG (as configure_logging sets them up), and no ticket code, viewing
token, API key, order token, Stripe or webhook secret appears in any record: its
message, arguments, extras or traceback.

A record is checked as it is made (a handler on the root logger, and on every logger
that does not propagate), before any formatter or filter could hide what a source
wrote.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.logging import JsonFormatter, configure_logging
from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.orders.fulfilment import mail_tickets
from tests.conftest import RecordingQueue
from tests.factories import make_tier, make_venue, ok, published_event
from tests.harness import TEST_STRIPE_KEY, TEST_WEBHOOK_SECRET
from tests.orders import scenarios as s

# The test's own HTTP client (Starlette's TestClient, over httpx) logs every URL it
# requests; it is the buyer's side, not the service (which uses no httpx).
CLIENT_SIDE = ("httpx", "httpcore")


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(CLIENT_SIDE):
            self.records.append(record)


def _loggers() -> list[logging.Logger]:
    found = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    return [logger for logger in found if isinstance(logger, logging.Logger)]


@pytest.fixture
def captured(settings: Settings) -> Iterator[Capture]:
    """Every record made while the test runs, with logging configured as in production
    but at DEBUG."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging(settings.model_copy(update={"log_level": "DEBUG"}))
    capture = Capture()
    root.addHandler(capture)
    silent = [logger for logger in _loggers() if not logger.propagate]
    for logger in silent:
        logger.addHandler(capture)
    try:
        yield capture
    finally:
        for logger in silent:
            logger.removeHandler(capture)
        root.handlers[:], root.level = saved[0], saved[1]


def _everything_in(record: logging.LogRecord) -> str:
    """The record as written (JSON: message, extras, traceback) and its raw parts."""
    return "\n".join((
        JsonFormatter().format(record), str(record.msg), repr(record.args),
        repr(vars(record)), record.exc_text or "", record.stack_info or "",
    ))  # fmt: skip


def test_a_whole_buy_and_view_flow_logs_no_secret(
    captured: Capture,
    client: TestClient,
    clock: FixedClock,
    database: Database,
    queue: RecordingQueue,
    followups: RecordingQueue,
    settings: Settings,
    tmp_path: Path,
) -> None:
    secrets: dict[str, str] = {
        "platform key": settings.platform_key.get_secret_value(),
        "stripe key": TEST_STRIPE_KEY,
        "webhook secret": TEST_WEBHOOK_SECRET,
    }
    secrets |= {f"token key {k}": v.get_secret_value() for k, v in settings.token_keys.items()}

    # The venue, its key, an event on sale with its tiers.
    venue = make_venue(client)
    secrets["venue api key"] = venue.key
    extra_key = ok(client.post("/v1/api-keys", json={"role": "admin", "label": "door"},
                               headers=venue.headers), 201)  # fmt: skip
    secrets["second api key"] = extra_key["key"]
    event = published_event(client, venue, clock.now())
    tier = make_tier(client, venue, event["id"], name="Stalls", capacity=10, price_amount=2000)

    # Buying, with an Idempotency-Key (replayed once), paid by a signed webhook.
    idempotency_key = {"Idempotency-Key": "2d4c7a9e-6f1b-4b8e-a3c5-9e0f1d2c3b4a"}
    body = {"email": "buyer@example.org", "country": "NL",
            "items": [{"tier_id": tier["id"], "quantity": 2}]}  # fmt: skip
    url = f"/v1/public/events/{event['id']}/orders"
    order = ok(client.post(url, json=body, headers=idempotency_key), 201)
    assert ok(client.post(url, json=body, headers=idempotency_key), 201) == order
    secrets["order token"] = order["order_token"]
    secrets["client secret"] = order["payment"]["client_secret"]
    s.deliver(client, s.succeeded(order))
    # The worker: process the Stripe event (tickets issued), then mail the tickets.
    assert s.Worker(database, clock, queue.sent, followups.sent).run()
    outbox = settings.model_copy(update={"data_dir": tmp_path})
    assert mail_tickets(database, outbox, order["id"], clock.now())

    # The buyer reads the order: header and (deprecated) query parameter.
    order_url = f"/v1/public/orders/{order['id']}"
    mine = ok(client.get(order_url, headers={"X-Order-Token": order["order_token"]}))
    assert mine == ok(client.get(order_url, params={"order_token": order["order_token"]}))
    assert client.get(order_url, params={"order_token": "wrong-token"}).status_code == 404
    staff = ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))
    assert [t["code"] for t in mine["tickets"]] == [t["code"] for t in staff["tickets"]]
    first, second = staff["tickets"]
    secrets |= {f"ticket code {i}": t["code"] for i, t in enumerate(staff["tickets"])}

    # Watching: redeem, heartbeat, authorize (header and ?token=), end; then revoke.
    clock.at = datetime.fromisoformat(event["starts_at"]) - timedelta(minutes=30)

    def redeem(code: str, device: str) -> Any:
        return client.post(f"/v1/tickets/{code}/sessions", json={"device_id": device},
                           headers={"CF-IPCountry": "NL"})  # fmt: skip

    def authorize(token: str, *, in_query: bool = False) -> int:
        playlist = {"X-Original-URI": f"/live/{event['id']}/hd/index.m3u8"}
        if in_query:
            return client.get(authorize_url, params={"token": token}, headers=playlist).status_code
        bearer = {"Authorization": f"Bearer {token}"}
        return client.get(authorize_url, headers={**playlist, **bearer}).status_code

    authorize_url = "/v1/viewing/authorize"
    clock.at = datetime.fromisoformat(event["starts_at"]) - timedelta(minutes=30)
    started = ok(redeem(first["code"], "living-room-tv"), 201)
    secrets["viewing token"] = started["token"]
    viewer = {"X-Viewing-Token": started["token"]}
    renewed = ok(client.post("/v1/viewing/heartbeat", headers=viewer))
    secrets["renewed viewing token"] = renewed["token"]
    assert authorize(renewed["token"]) == 204
    assert authorize(renewed["token"], in_query=True) == 204
    other = ok(redeem(second["code"], "phone"), 201)
    secrets["second viewing token"] = other["token"]
    ended = client.delete(f"/v1/viewing/sessions/{other['session_id']}",
                          headers={"Authorization": f"Bearer {other['token']}"})  # fmt: skip
    assert ended.status_code == 204
    revoked = ok(client.post(f"/v1/tickets/{first['id']}/revoke", headers=venue.headers))
    assert revoked["status"] == "revoked"
    # Refusals and mistakes are logged too: a revoked ticket, a path no route has.
    assert authorize(renewed["token"], in_query=True) == 403
    assert redeem(first["code"], "tv").status_code == 403
    assert client.get(f"/v1/tickets/{second['code']}").status_code == 404
    assert client.get(f"/v1/public/orders/{order['id']}/{order['order_token']}").status_code == 404

    records = captured.records
    leaks: list[tuple[str, str, str]] = []
    for record in records:
        text = _everything_in(record)
        leaks += [(name, record.name, record.getMessage()) for name, value in secrets.items()
                  if value in text]  # fmt: skip
    assert leaks == [], leaks
    # The flow was logged, by route template (a path no route has: its words only).
    access = [r.getMessage() for r in records if r.name == "streamsvc.access"]
    assert "POST /v1/tickets/{code}/sessions" in access
    assert "GET /v1/public/orders/{order_id}" in access
    assert "GET /v1/tickets/{?}" in access
    assert "GET /v1/viewing/authorize" in access  # a hot path, at DEBUG: DEBUG was captured
