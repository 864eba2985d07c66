"""Every action that changes money, access or the rules of sharing leaves exactly one
audit entry, written in its own transaction, naming the key that acted."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from starlette.testclient import TestClient

from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import cancellation
from streamsvc.orders.models import Ticket
from streamsvc.venues.schemas import ApiKeyCreate
from streamsvc.venues.service import create_api_key
from tests.audit.log import Log, actor, admin_key_id, described, stored
from tests.factories import buy, make_event, make_tier, make_venue, ok, put_split_rule
from tests.orders import scenarios as s
from tests.stripe_helpers import pay_with_card


def _paid_order(client: TestClient, database: Database, clock: FixedClock, localstripe: str,
                event_id: str, tier_id: str) -> dict[str, Any]:  # fmt: skip
    order: dict[str, Any] = buy(client, event_id, tier_id, quantity=2)
    pay_with_card(localstripe, order["payment"]["payment_intent_id"])
    s.deliver(client, s.succeeded(order))
    s.drain(database, clock)
    return order


def test_each_action_leaves_one_entry_naming_the_key(
    client: TestClient, database: Database, clock: FixedClock, localstripe: str
) -> None:
    venue = make_venue(client)
    admin = ("key", admin_key_id(client, venue))
    log = Log(database)
    h = venue.headers

    # API keys: created and revoked, by the admin key, with role and label.
    spare = ok(client.post("/v1/api-keys", json={"role": "finance", "label": "books"},
                           headers={**h, "X-Request-ID": "req-audit-1"}), 201)  # fmt: skip
    entry = log.one()
    assert (actor(entry), entry.venue_id, entry.request_id) == (admin, venue.id, "req-audit-1")
    assert described(entry) == ("api_key.created", "api_key", spare["id"],
                                {"role": "finance", "label": "books"})  # fmt: skip

    # A draft is set up: creating it and its tier change no money yet.
    event = make_event(client, venue, clock.now())
    tier = make_tier(client, venue, event["id"], price_amount=1950, capacity=50)
    assert log.new() == []

    # Each split-rule version, with what it shares.
    rule = put_split_rule(client, venue, event["id"])
    entry = log.one()
    assert actor(entry) == admin
    assert described(entry)[:3] == ("split_rule.versioned", "split_rule", rule["id"])
    assert entry.changes["event_id"] == event["id"]
    assert entry.changes["version"] == {"before": None, "after": 1}
    assert entry.changes["shares"] == [{"party": {"type": "venue", "id": venue.id},
                                        "bps": 10_000}]  # fmt: skip
    assert entry.changes["platform_fee_bps"] == 500
    put_split_rule(client, venue, event["id"])
    assert log.one().changes["version"] == {"before": 1, "after": 2}

    # Publishing.
    ok(client.post(f"/v1/events/{event['id']}/publish", headers=h))
    entry = log.one()
    assert actor(entry) == admin
    assert described(entry) == ("event.published", "event", event["id"],
                                {"status": {"before": "draft", "after": "on_sale"}})  # fmt: skip

    # A tier's price and its capacity, each its own entry; a new name is not audited.
    url = f"/v1/tiers/{tier['id']}"
    ok(client.patch(url, json={"price_amount": 2500}, headers=h))
    assert described(log.one()) == ("tier.price_changed", "tier", tier["id"], {
        "price_amount": {"before": 1950, "after": 2500}, "currency": "EUR"})  # fmt: skip
    ok(client.patch(url, json={"capacity": 40}, headers=h))
    assert described(log.one()) == ("tier.capacity_changed", "tier", tier["id"],
                                    {"capacity": {"before": 50, "after": 40}})  # fmt: skip
    ok(client.patch(url, json={"name": "Stream HD"}, headers=h))
    assert log.new() == []

    # A refund, in the transaction that records it (before Stripe is asked).
    order = _paid_order(client, database, clock, localstripe, event["id"], tier["id"])
    log.new()  # buying and paying are the buyer's and Stripe's, not audited actions
    refund = ok(client.post(f"/v1/orders/{order['id']}/refunds", json={"amount": 500},
                            headers=h), 202)  # fmt: skip
    entry = log.one()
    assert actor(entry) == admin
    assert described(entry) == ("order.refunded", "order", order["id"], {
        "refund_id": refund["id"], "amount": 500, "currency": "EUR", "origin": "staff",
        "refunded_amount": {"before": 0, "after": 500}})  # fmt: skip

    # One ticket revoked.
    with database.unit_of_work() as uow:
        ticket_id = uow.session.exec(
            select(Ticket.id).where(Ticket.order_id == order["id"])
        ).first()
    assert ticket_id is not None
    ok(client.post(f"/v1/tickets/{ticket_id}/revoke", headers=h))
    assert described(log.one()) == ("ticket.revoked", "ticket", ticket_id, {
        "status": {"before": "valid", "after": "revoked"}, "order_id": order["id"]})  # fmt: skip

    # Cancelling: one entry; asking again while its job runs changes nothing more.
    job = ok(client.post(f"/v1/events/{event['id']}/cancel", headers=h), 202)
    entry = log.one()
    assert actor(entry) == admin
    assert described(entry) == ("event.cancelled", "event", event["id"], {
        "status": {"before": "on_sale", "after": "cancelled"}, "job_id": job["id"]})  # fmt: skip
    ok(client.post(f"/v1/events/{event['id']}/cancel", headers=h), 202)
    assert log.new() == []
    # The job's refunds follow from the cancellation already recorded.
    cancellation.run(database, job["id"], clock.now())
    assert log.new() == []

    ok(client.delete(f"/v1/api-keys/{spare['id']}", headers=h), 204)
    assert described(log.one()) == ("api_key.revoked", "api_key", spare["id"],
                                    {"role": "finance", "label": "books"})  # fmt: skip


def test_the_platform_and_the_system_are_named_too(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    venue = make_venue(client)  # with the platform key: its first key is the platform's doing
    (entry,) = stored(database)
    assert (entry.action, actor(entry), entry.venue_id) == (
        "api_key.created", ("platform", "platform"), venue.id)  # fmt: skip
    # Outside any request (a worker, a script) nobody is authenticated: the system acts.
    log = Log(database)
    with database.unit_of_work() as uow:
        create_api_key(uow.session, venue.id, ApiKeyCreate(role="finance", label="cron"),
                       clock.now())  # fmt: skip
    entry = log.one()
    assert (entry.action, actor(entry), entry.request_id) == (
        "api_key.created", ("system", "system"), None)  # fmt: skip


def test_an_email_address_never_reaches_the_log(client: TestClient, database: Database) -> None:
    venue = make_venue(client)
    log = Log(database)
    ok(client.post("/v1/api-keys", json={"role": "admin", "label": "ops Jan@Example.org"},
                   headers=venue.headers), 201)  # fmt: skip
    entry = log.one()
    assert entry.changes["label"] == "ops [e-mail address removed]"
