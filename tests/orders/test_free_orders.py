"""Free tiers and pay-what-you-want tiers whose buyers choose 0: the order is settled
when it is placed, without Stripe, its tickets issued and mailed, the ledger untouched."""

from __future__ import annotations

import re
import threading
from typing import Any, NoReturn, cast

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.errors import Conflict
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import cancellation, placing
from streamsvc.orders.fulfilment import mail_tickets
from streamsvc.orders.schemas import OrderCreate
from streamsvc.payments.gateway import PaymentGateway
from tests.conftest import RecordingQueue
from tests.factories import VenueHandle, buy, make_tier, make_venue, ok, published_event
from tests.finance.world import build, ledger
from tests.mailbox import Mailbox

HTML = {"Accept": "text/html"}


class NoStripe:
    """A gateway that fails the test on any call: a free order must never reach Stripe."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        def called(*args: Any, **kwargs: Any) -> NoReturn:
            self.calls.append(name)
            raise AssertionError(f"Stripe was called: {name}")

        return called


def _free_event(
    client: TestClient, clock: FixedClock, *, seats: int | None = None
) -> tuple[VenueHandle, Any, dict[str, Any]]:
    venue = make_venue(client)
    event = published_event(client, venue, clock.now())
    free = make_tier(client, venue, event["id"], name="Free stream", price_amount=0,
                     capacity=seats)  # fmt: skip
    choose = make_tier(client, venue, event["id"], name="Donate", price_amount=None,
                       pay_what_you_want={"min_amount": 0, "suggested_amount": 1000})  # fmt: skip
    paid = make_tier(client, venue, event["id"], name="Paid stream", price_amount=1500)
    return venue, event, {"free": free, "choose": choose, "paid": paid}


def _tier(client: TestClient, venue: VenueHandle, event_id: str, tier_id: str) -> Any:
    listed = ok(client.get(f"/v1/events/{event_id}/tiers", headers=venue.headers))["data"]
    return next(tier for tier in listed if tier["id"] == tier_id)


def test_a_free_order_issues_its_tickets_at_once_without_stripe(
    client: TestClient, clock: FixedClock, queue: RecordingQueue, database: Database,
    settings: Settings, mailbox: Mailbox,
) -> None:  # fmt: skip
    venue, event, tiers = _free_event(client, clock, seats=5)
    order = buy(client, event["id"], tiers["free"]["id"], quantity=2, email="free@example.org")
    assert (order["status"], order["total_amount"], order["payment"]) == ("paid", 0, None)
    # Held and sold in the one transaction: nothing stays held, nothing can expire.
    tier = _tier(client, venue, event["id"], tiers["free"]["id"])
    assert (tier["sold"], tier["held"], tier["available"]) == (2, 0, 3)
    staff = ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))
    assert staff["payment_intent_id"] is None and staff["paid_amount"] == 0
    assert staff["paid_at"] is not None and len(staff["tickets"]) == 2
    refund = client.post(f"/v1/orders/{order['id']}/refunds", json={}, headers=venue.headers)
    assert refund.status_code == 409 and refund.json()["error"]["code"] == "not_refundable"
    mine = ok(client.get(f"/v1/public/orders/{order['id']}",
                         headers={"X-Order-Token": order["order_token"]}))  # fmt: skip
    assert mine["status"] == "paid"
    assert [t["status"] for t in mine["tickets"]] == ["valid", "valid"]
    # The ticket mail goes the paid orders' way: TicketsIssued -> orders.send_tickets.
    assert ("orders.send_tickets", (order["id"],)) in queue.sent
    smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": mailbox.port})
    before = len(mailbox.received)
    assert mail_tickets(database, smtp, order["id"], clock.now()) is True
    [mail] = [m for m in mailbox.received[before:] if m.rcpt_tos == ["free@example.org"]]
    body = mail.message.get_body(("plain",))
    assert body is not None
    content = body.get_content()
    assert all(t["code"] in content for t in mine["tickets"])
    assert mail_tickets(database, smtp, order["id"], clock.now()) is False  # once

    # Placed directly with a gateway that refuses every call: the use case itself never
    # asks Stripe for anything.
    gateway = NoStripe()
    request = OrderCreate.model_validate({"email": "direct@example.org", "country": "NL",
                                          "items": [{"tier_id": tiers["free"]["id"],
                                                     "quantity": 1}]})  # fmt: skip
    placed = placing.place_order(database, cast(PaymentGateway, gateway), settings, clock,
                                 event_id=event["id"], request=request, locale="en",
                                 idempotency_key="free-1")  # fmt: skip
    assert (placed.status, placed.answer["status"], placed.answer["payment"]) == (201, "paid", None)
    again = placing.place_order(database, cast(PaymentGateway, gateway), settings, clock,
                                event_id=event["id"], request=request, locale="en",
                                idempotency_key="free-1")  # fmt: skip
    assert again.answer == placed.answer  # a replay, not a second order
    assert gateway.calls == []
    assert _tier(client, venue, event["id"], tiers["free"]["id"])["sold"] == 3


def test_a_free_tier_sells_exactly_its_capacity_under_concurrency(
    client: TestClient, clock: FixedClock, database: Database, settings: Settings
) -> None:
    venue, event, tiers = _free_event(client, clock, seats=3)
    gateway = cast(PaymentGateway, NoStripe())
    outcomes: list[str] = []
    start = threading.Barrier(6)

    def order(n: int) -> None:
        request = OrderCreate.model_validate({"email": f"fan{n}@example.org", "country": "NL",
                                              "items": [{"tier_id": tiers["free"]["id"],
                                                         "quantity": 1}]})  # fmt: skip
        start.wait()
        try:
            placed = placing.place_order(database, gateway, settings, clock, event_id=event["id"],
                                         request=request, locale="en", idempotency_key=None)  # fmt: skip
            outcomes.append(placed.answer["status"])
        except Conflict as refused:
            outcomes.append(refused.code)

    threads = [threading.Thread(target=order, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["paid"] * 3 + ["sold_out"] * 3
    tier = _tier(client, venue, event["id"], tiers["free"]["id"])
    assert (tier["sold"], tier["held"], tier["available"]) == (3, 0, 0)
    with database.engine.connect() as conn:
        tickets = conn.execute(text("SELECT count(*) FROM tickets WHERE tier_id = :t"),
                               {"t": tiers["free"]["id"]}).scalar()  # fmt: skip
    assert tickets == 3


def test_free_orders_are_rate_limited_and_their_e_mail_checked(
    client: TestClient, clock: FixedClock, settings: Settings
) -> None:
    _, event, tiers = _free_event(client, clock)
    url = f"/v1/public/events/{event['id']}/orders"
    body = {"email": "eager@example.org", "country": "NL",
            "items": [{"tier_id": tiers["free"]["id"], "quantity": 1}]}  # fmt: skip
    bad = client.post(url, json={**body, "email": "not-an-address"})
    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) == {"email"}
    statuses = [client.post(url, json=body).status_code
                for _ in range(settings.order_rate_per_email + 1)]  # fmt: skip
    assert statuses == [201] * settings.order_rate_per_email + [429]


def test_pay_what_you_want_from_zero_is_free_or_a_payable_donation(
    client: TestClient, clock: FixedClock
) -> None:
    venue, event, tiers = _free_event(client, clock)
    url = f"/v1/public/events/{event['id']}/orders"
    item = {"tier_id": tiers["choose"]["id"], "quantity": 1}
    base = {"email": "giver@example.org", "country": "NL"}
    free = ok(client.post(url, json={**base, "items": [{**item, "amount": 0}]}), 201)
    assert (free["status"], free["total_amount"], free["payment"]) == ("paid", 0, None)
    small = client.post(url, json={**base, "items": [{**item, "amount": 49}]})
    assert small.status_code == 422, small.text
    error = small.json()["error"]
    assert error["fields"] == {"items[0].amount": "0 or at least 50"}
    assert (error["minimum_amount"], error["currency"]) == (50, "EUR")
    gift = ok(client.post(url, json={**base, "items": [{**item, "amount": 50}]}), 201)
    assert (gift["status"], gift["total_amount"]) == ("pending", 50)
    assert gift["payment"]["payment_intent_id"]
    # Free and paid tiers together: a paid order for the paid part.
    mixed = buy(client, event["id"], tiers["free"]["id"], items=[
        {"tier_id": tiers["free"]["id"], "quantity": 2},
        {"tier_id": tiers["paid"]["id"], "quantity": 1},
        {**item, "amount": 0}])  # fmt: skip
    assert (mixed["status"], mixed["total_amount"]) == ("pending", 1500)
    assert mixed["payment"]["payment_intent_id"]
    free_tier = _tier(client, venue, event["id"], tiers["free"]["id"])
    assert (free_tier["held"], free_tier["sold"]) == (2, 0)  # held until it is paid
    chosen = _tier(client, venue, event["id"], tiers["choose"]["id"])
    assert (chosen["held"], chosen["sold"]) == (2, 1)  # the donation and the mixed order


def test_free_orders_leave_the_ledger_balanced_and_reconciliation_clean(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    from streamsvc.finance.reconciliation import reconcile_event

    world = build(client, database, clock, tiers=[(0, 2100, None), (2000, 2100, None)],
                  platform_fee_bps=1000, costs=[], shares=[10000])  # fmt: skip
    free = buy(client, world.event["id"], world.tiers[0]["id"], quantity=3)
    assert free["status"] == "paid"
    world.buy([(1, 1)])
    world.buy([(0, 2), (1, 1)])  # mixed: pays 2000
    outcome = reconcile_event(database, world.books, world.event["id"], clock.now(),
                              period="p1")  # fmt: skip
    assert outcome.findings == 0
    assert outcome.posted == 2  # the two charges; nothing for the free order
    assert not [ref for ref, _, _ in ledger(database) if free["id"] in ref]
    with database.engine.connect() as conn:
        unbalanced = conn.execute(text(
            "SELECT transaction_id FROM ledger_entries GROUP BY transaction_id "
            "HAVING sum(amount) <> 0")).all()  # fmt: skip
        findings = conn.execute(text("SELECT count(*) FROM reconciliation_findings")).scalar()
    assert unbalanced == [] and findings == 0
    statement = world.statement()
    assert statement["gross"] == 4000


def test_an_event_cancellation_revokes_free_tickets(
    client: TestClient, clock: FixedClock, database: Database
) -> None:
    venue, event, tiers = _free_event(client, clock)
    order = buy(client, event["id"], tiers["free"]["id"])
    job = ok(client.post(f"/v1/events/{event['id']}/cancel", headers=venue.headers), 202)
    cancellation.run(database, job["id"], clock.now())
    mine = ok(client.get(f"/v1/public/orders/{order['id']}",
                         headers={"X-Order-Token": order["order_token"]}))  # fmt: skip
    assert mine["status"] == "cancelled"
    assert [t["status"] for t in mine["tickets"]] == ["revoked"]
    staff = ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))
    assert staff["refunds"] == []  # nothing was paid, nothing to refund


@pytest.mark.parametrize("language", ["en", "nl"])
def test_the_event_page_takes_a_free_order_straight_to_its_order_page(
    client: TestClient, clock: FixedClock, language: str
) -> None:
    _, event, tiers = _free_event(client, clock)
    path = f"/events/{event['id']}"
    headers = {**HTML, "Accept-Language": language}
    page = client.get(path, headers=headers).text
    free_word = "Gratis" if language == "nl" else "Free"
    assert re.search(rf'<p class="price">{free_word}</p>', page), page
    csrf = re.search(r'name="csrf_token" value="([^"]*)"', page)
    attempt = re.search(r'name="attempt" value="([^"]*)"', page)
    assert csrf and attempt
    form = {"csrf_token": csrf.group(1), "attempt": attempt.group(1),
            f"quantity-{tiers['free']['id']}": "2", "email": "page@example.org",
            "country": "NL"}  # fmt: skip
    placed = client.post(path, data=form, headers=headers, follow_redirects=False)
    assert placed.status_code == 303, placed.text
    location = placed.headers["location"]
    assert location.startswith("/orders/ord_"), location
    order_page = client.get(location, headers=headers)
    assert order_page.status_code == 200
    assert order_page.text.count('class="ticket ticket-valid"') == 2
    assert free_word in order_page.text and 'data-status="paid"' in order_page.text
    # The checkout of a free order has nothing to pay: it leads to the order page.
    order_id = location.removeprefix("/orders/")
    checkout = client.get(f"/checkout/{order_id}", headers=headers, follow_redirects=False)
    assert checkout.status_code == 303 and checkout.headers["location"] == location


def test_the_event_page_explains_a_donation_below_the_minimum(
    client: TestClient, clock: FixedClock
) -> None:
    _, event, tiers = _free_event(client, clock)
    path = f"/events/{event['id']}"
    page = client.get(path, headers=HTML).text
    csrf = re.search(r'name="csrf_token" value="([^"]*)"', page)
    assert csrf
    field = f"amount-{tiers['choose']['id']}"
    form = {"csrf_token": csrf.group(1), f"quantity-{tiers['choose']['id']}": "1",
            field: "0,30", "email": "page@example.org", "country": "NL"}  # fmt: skip
    refused = client.post(path, data=form, headers=HTML)
    assert refused.status_code == 422
    error = re.search(rf'<p id="error-{field}"[^>]*>([^<]*)</p>', refused.text)
    assert error and "Enter 0 for a free ticket, or at least €0.50." in error.group(1)


@pytest.mark.parametrize("language", ["fr", "nl", "en"])
def test_the_ticket_mail_is_in_the_language_the_order_was_placed_in(
    client: TestClient, clock: FixedClock, database: Database, settings: Settings,
    mailbox: Mailbox, language: str,
) -> None:  # fmt: skip
    _, event, tiers = _free_event(client, clock)
    body = {"email": f"{language}@example.org", "country": "BE",
            "items": [{"tier_id": tiers["free"]["id"], "quantity": 1}]}  # fmt: skip
    placed = client.post(f"/v1/public/events/{event['id']}/orders", json=body,
                         headers={"Accept-Language": language})  # fmt: skip
    order = ok(placed, 201)
    smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": mailbox.port})
    before = len(mailbox.received)
    assert mail_tickets(database, smtp, order["id"], clock.now()) is True
    [mail] = [m for m in mailbox.received[before:] if m.rcpt_tos == [body["email"]]]
    assert str(mail.message["Content-Language"]) == language
