"""Ticket mails sent again for an e-mail address: through the ticket mail's own path
(TicketsIssued -> orders.send_tickets -> mail_tickets), rate-limited per address and
per client, and silent about whether the address bought anything."""

from __future__ import annotations

import asyncio
import email
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.errors import RateLimited
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import resend
from streamsvc.orders.fulfilment import mail_tickets
from tests.conftest import RecordingQueue
from tests.factories import buy, ok
from tests.harness import Infrastructure
from tests.orders import scenarios as s

pytestmark = pytest.mark.stripe


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None, tmp_path: Path) -> Settings:
    # No SMTP host: mails are written to DATA_DIR/outbox, where the test reads them.
    return infra.settings(data_dir=tmp_path, resend_rate_per_email=2, resend_rate_per_ip=3)


def _resend(settings: Settings, database: Database, clock: FixedClock, address: str,
            client: str = "192.0.2.1") -> None:  # fmt: skip
    async def run() -> None:
        redis = aioredis.Redis.from_url(settings.require("redis_url"))
        try:
            await resend.resend_tickets(
                redis, database, email=address, client=client, now=clock.now(),
                per_email=settings.resend_rate_per_email, per_client=settings.resend_rate_per_ip,
            )  # fmt: skip
        finally:
            await redis.aclose()

    asyncio.run(run())


def _outbox(settings: Settings) -> list[EmailMessage]:
    folder = settings.data_dir / "outbox"
    return [
        email.message_from_bytes(path.read_bytes(), policy=default)
        for path in sorted(folder.glob("*.eml"))
    ]


def _paid_order(client: TestClient, database: Database, clock: FixedClock, shop: Any,
                address: str) -> dict[str, Any]:  # fmt: skip
    _, event, tier_id = shop
    order: dict[str, Any] = buy(client, event["id"], tier_id, quantity=2, email=address)
    s.deliver(client, s.succeeded(order))
    s.drain(database, clock)
    return order


def test_the_ticket_mails_of_an_address_are_sent_again_through_the_mail_path(
    client: TestClient, clock: FixedClock, database: Database, shop: Any, settings: Settings,
    followups: RecordingQueue,
) -> None:  # fmt: skip
    venue, _, _ = shop
    order = _paid_order(client, database, clock, shop, "Fan@Example.org")
    assert mail_tickets(database, settings, order["id"], clock.now())
    assert len(_outbox(settings)) == 1
    assert not mail_tickets(database, settings, order["id"], clock.now())  # once only
    followups.sent.clear()

    _resend(settings, database, clock, "  fan@example.ORG ")  # any spelling of it
    assert followups.sent == [("orders.send_tickets", (order["id"],))]
    assert mail_tickets(database, settings, order["id"], clock.now())
    mails = _outbox(settings)
    assert len(mails) == 2 and mails[1]["To"] == "Fan@Example.org"
    body = mails[1].get_body(preferencelist=("plain",))
    assert body is not None
    tickets = ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))["tickets"]
    text = body.get_content()
    # Secrets in fragments only: the watch pages by ticket id, the order page by token.
    for ticket in tickets:
        assert f"/watch/{ticket['id']}#code={ticket['code']}" in text
    assert f"/orders/{order['id']}#token={order['order_token']}" in text


def test_an_address_without_paid_orders_gets_nothing_and_hears_the_same(
    client: TestClient, clock: FixedClock, database: Database, shop: Any, settings: Settings,
    followups: RecordingQueue,
) -> None:  # fmt: skip
    _, event, tier_id = shop
    buy(client, event["id"], tier_id, email="unpaid@example.org")  # pending: no tickets
    _resend(settings, database, clock, "unpaid@example.org")
    _resend(settings, database, clock, "nobody@example.org", client="192.0.2.2")
    assert followups.sent == []


def test_resending_is_rate_limited_per_address_and_per_client(
    clock: FixedClock, database: Database, settings: Settings
) -> None:
    for _ in range(2):
        _resend(settings, database, clock, "fan@example.org", client="192.0.2.10")
    with pytest.raises(RateLimited) as per_address:  # from another client too
        _resend(settings, database, clock, "FAN@example.org", client="192.0.2.11")
    assert int(per_address.value.headers["Retry-After"]) > 0
    # 192.0.2.11 spent one try on the refused request above.
    for address in ("a@example.org", "b@example.org"):
        _resend(settings, database, clock, address, client="192.0.2.11")
    with pytest.raises(RateLimited):
        _resend(settings, database, clock, "c@example.org", client="192.0.2.11")
    clock.advance(hours=1)
    _resend(settings, database, clock, "fan@example.org", client="192.0.2.11")
