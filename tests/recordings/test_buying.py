"""Buying a recording's offer: a rental, a purchase or a free play from the recording's
page, one access per order, issued once when the order is paid (signed webhooks), mailed
with the code in the fragment only, and following the order's refunds and disputes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, NoReturn, cast

import pytest
from sqlmodel import col, select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.db import Database
from streamsvc.errors import ServiceError
from streamsvc.kit.clock import FixedClock
from streamsvc.orders.models import Order
from streamsvc.outbox.models import OutboxMessage
from streamsvc.payments.gateway import PaymentGateway
from streamsvc.recordings import buying
from streamsvc.recordings.access import RecordingAccess
from streamsvc.recordings.mail import mail_access
from tests.conftest import RecordingQueue
from tests.factories import VenueHandle, make_venue, ok
from tests.harness import Infrastructure
from tests.mailbox import Mailbox
from tests.orders import scenarios as s
from tests.recordings.helpers import RENTAL, make_recording, published_recording, put_offers

HTML = {"Accept": "text/html", "Accept-Language": "en"}


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    # A few orders per address here: no rate limit in the way. Paid offers are sold.
    settings: Settings = infra.settings(order_rate_per_email=20, recording_paid_sales=True)
    return settings


class NoStripe:
    """A gateway that fails the test on any call: a free offer must never reach Stripe."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        def called(*args: Any, **kwargs: Any) -> NoReturn:
            self.calls.append(name)
            raise AssertionError(f"Stripe was called: {name}")

        return called


def _form(page: str, kind: str) -> dict[str, str]:
    """The hidden fields of the offer's form on the recording page."""
    found = re.search(rf'<form [^>]*id="buy-form-{kind}">(.*?)</form>', page, re.S)
    assert found, page[:3000]
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', found.group(1)))
    assert {"csrf_token", "attempt", "offer_id"} <= set(fields), fields
    return fields


def _buy(
    client: TestClient, recording_id: str, kind: str, email: str = "fan@example.org",
    page: str | None = None,
) -> Any:  # fmt: skip
    path = f"/recordings/{recording_id}"
    form = _form(page or client.get(path, headers=HTML).text, kind)
    return client.post(path, data={**form, "email": email, "country": "NL"}, headers=HTML,
                       follow_redirects=False)  # fmt: skip


def _order_id(response: Any, page: str) -> str:
    assert response.status_code == 303, response.text[:2000]
    found = re.fullmatch(rf"/{page}/(ord_\w+)", response.headers["location"])
    assert found is not None, response.headers["location"]
    return found.group(1)


def _order(database: Database, order_id: str) -> Order:
    with database.unit_of_work() as uow:
        order = uow.session.get(Order, order_id)
        assert order is not None
        uow.session.expunge(order)
        return order


def _accesses(database: Database, order_id: str) -> list[RecordingAccess]:
    with database.unit_of_work() as uow:
        rows = list(uow.session.exec(
            select(RecordingAccess).where(RecordingAccess.order_id == order_id)))  # fmt: skip
        for row in rows:
            uow.session.expunge(row)
        return rows


def _as_scenario(order: Order) -> dict[str, Any]:
    """The order as tests/orders/scenarios.py builds Stripe events for it."""
    return {"id": order.id, "total_amount": order.total_amount, "currency": order.currency,
            "payment": {"payment_intent_id": order.payment_intent_id}}  # fmt: skip


def _pay(client: TestClient, database: Database, clock: FixedClock, order_id: str) -> Any:
    """Pay the order as Stripe reports it: a signed webhook, processed as the worker does."""
    order = _order(database, order_id)
    assert order.payment_intent_id is not None and order.status == "pending"
    paid = s.succeeded(_as_scenario(order))
    s.deliver(client, paid)
    s.drain(database, clock)
    return paid


def _outbox(database: Database, kind: str) -> list[dict[str, Any]]:
    with database.unit_of_work() as uow:
        rows = uow.session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(col(OutboxMessage.id))
        )
        return [dict(row.payload) for row in rows]


def _shop(client: TestClient, **over: Any) -> tuple[VenueHandle, Any]:
    venue = make_venue(client)
    return venue, published_recording(client, venue, **over)


def test_a_rental_bought_and_paid_issues_one_access_and_mails_its_link(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock,
    followups: RecordingQueue, mailbox: Mailbox,
) -> None:  # fmt: skip
    _, recording = _shop(client)
    page = client.get(f"/recordings/{recording['id']}", headers=HTML)
    assert re.search(r'<button type="submit" id="buy-rental">Pay €4\.99</button>', page.text)
    assert re.search(r'<button type="submit" id="buy-purchase">Pay €12\.99</button>', page.text)
    bought = _buy(client, recording["id"], "rental", page=page.text)
    order_id = _order_id(bought, "checkout")
    assert any(f"order_{order_id}=" in c and "HttpOnly" in c
               for c in bought.headers.get_list("set-cookie"))  # fmt: skip
    order = _order(database, order_id)
    assert (order.recording_id, order.event_id, order.email, order.country) == (
        recording["id"], None, "fan@example.org", "NL")  # fmt: skip
    assert (order.total_amount, order.currency, order.split_rule_version) == (499, "EUR", 1)
    assert order.payment_intent_id is not None and order.locale == "en"
    checkout = client.get(f"/checkout/{order_id}", headers=HTML)
    assert checkout.status_code == 200 and "Pay for your recording" in checkout.text
    assert "0.87" in checkout.text  # the VAT within €4.99 at 21 %
    assert _accesses(database, order_id) == []  # nothing before the payment

    paid = _pay(client, database, clock, order_id)
    [access] = _accesses(database, order_id)
    assert (access.kind, access.status, access.watch_hours) == ("rental", "valid", 48)
    assert access.start_by == datetime(2026, 12, 31, 12, 0, tzinfo=UTC)  # paid + 30 days
    assert (access.started_at, access.ends_at) == (None, None)  # opened at first play
    assert access.recording_id == recording["id"] and access.id.startswith("rac_")
    assert _order(database, order_id).status == "paid"
    assert ("recordings.send_access", (order_id,)) in followups.sent
    assert _outbox(database, "RecordingAccessIssued") == [{"order_id": order_id}]

    # The webhook again, and a later one for the same payment: still one access, one mail.
    s.deliver(client, paid)
    s.deliver(client, s.succeeded(_as_scenario(_order(database, order_id))))
    s.drain(database, clock)
    assert [a.id for a in _accesses(database, order_id)] == [access.id]
    assert followups.sent.count(("recordings.send_access", (order_id,))) == 1

    smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": mailbox.port})
    before = len(mailbox.received)
    assert mail_access(database, smtp, order_id, clock.now()) is True
    [mail] = mailbox.received[before:]
    assert mail.message["To"] == "fan@example.org"
    assert "Bill Evans Trio, live at the Bimhuis" in mail.message["Subject"]
    body = mail.message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    link = f"{settings.public_url.rstrip('/')}/watch/recordings/{access.id}#code={access.code}"
    assert link in text
    assert text.count(access.code) == 1  # the code only in the link's fragment
    assert "Start within 30 days; plays for 48 hours once started." in text
    assert mail_access(database, smtp, order_id, clock.now()) is False  # once

    # The order page: the recording, the rental's terms in words, the Watch link.
    shown = client.get(f"/orders/{order_id}", headers=HTML)
    assert shown.status_code == 200
    assert "<h1>Bill Evans Trio, live at the Bimhuis</h1>" in shown.text
    assert "Start within 30 days; plays for 48 hours once started." in shown.text
    assert f'href="/watch/recordings/{access.id}#code={access.code}"' in shown.text
    receipt = client.get(f"/orders/{order_id}/receipt", headers=HTML)
    assert receipt.status_code == 200 and "Recording" in receipt.text


def test_a_purchase_grants_an_access_without_a_window(
    client: TestClient, database: Database, clock: FixedClock,
) -> None:  # fmt: skip
    _, recording = _shop(client)
    order_id = _order_id(_buy(client, recording["id"], "purchase"), "checkout")
    assert _order(database, order_id).total_amount == 1299
    _pay(client, database, clock, order_id)
    [access] = _accesses(database, order_id)
    assert (access.kind, access.status, access.start_by, access.watch_hours) == (
        "purchase", "valid", None, None)  # fmt: skip
    shown = client.get(f"/orders/{order_id}", headers=HTML).text
    assert "Watch for as long as the archive exists." in shown
    assert f'href="/watch/recordings/{access.id}#code={access.code}"' in shown


def test_a_free_offer_issues_its_access_at_once_without_stripe(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock,
    followups: RecordingQueue,
) -> None:  # fmt: skip
    _, recording = _shop(client, free=True)
    page = client.get(f"/recordings/{recording['id']}", headers=HTML).text
    assert '<button type="submit" id="buy-free">Watch for free</button>' in page
    order_id = _order_id(_buy(client, recording["id"], "free", page=page), "orders")
    order = _order(database, order_id)
    assert (order.status, order.total_amount, order.paid_amount) == ("paid", 0, 0)
    assert order.payment_intent_id is None and order.paid_at is not None
    [access] = _accesses(database, order_id)
    assert (access.kind, access.status, access.start_by) == ("free", "valid", None)
    assert ("recordings.send_access", (order_id,)) not in followups.sent  # the app's queue
    shown = client.get(f"/orders/{order_id}", headers=HTML).text
    assert f'href="/watch/recordings/{access.id}#code={access.code}"' in shown

    # The use case itself, with a gateway that fails on any call: Stripe is never asked.
    gateway = NoStripe()
    placed = buying.buy_recording(
        database, cast(PaymentGateway, gateway), settings, clock,
        recording_id=recording["id"], offer_id=_form(page, "free")["offer_id"],
        email="direct@example.org", country="BE", locale="nl", idempotency_key="free-1",
    )  # fmt: skip
    assert (placed.status, placed.total_amount, placed.payment_intent_id) == ("paid", 0, None)
    again = buying.buy_recording(
        database, cast(PaymentGateway, gateway), settings, clock,
        recording_id=recording["id"], offer_id=_form(page, "free")["offer_id"],
        email="direct@example.org", country="BE", locale="nl", idempotency_key="free-1",
    )  # fmt: skip
    assert again.order_id == placed.order_id  # a replay, not a second order
    assert gateway.calls == []
    assert len(_accesses(database, placed.order_id)) == 1
    assert ("recordings.send_access", (placed.order_id,)) in followups.sent


def test_refunds_and_disputes_revoke_suspend_and_restore_the_access(
    client: TestClient, database: Database, clock: FixedClock,
) -> None:  # fmt: skip
    venue, recording = _shop(client)
    refunded = _order_id(_buy(client, recording["id"], "rental"), "checkout")
    _pay(client, database, clock, refunded)
    # A staff refund goes the ordinary way; the whole payment back revokes the access.
    answer = client.post(f"/v1/orders/{refunded}/refunds", json={"reason": "asked"},
                         headers=venue.headers)  # fmt: skip
    assert ok(answer, 202)["amount"] == 499
    [access] = _accesses(database, refunded)
    assert access.status == "revoked"
    assert {"statuses": {access.id: "revoked"}} in _outbox(database, "RecordingAccessStatusChanged")
    shown = client.get(f"/orders/{refunded}", headers=HTML).text
    assert "The recording no longer plays." in shown and "/watch/recordings/" not in shown

    disputed = _order_id(_buy(client, recording["id"], "purchase", email="b@example.org"),
                         "checkout")  # fmt: skip
    _pay(client, database, clock, disputed)
    scenario = _as_scenario(_order(database, disputed))
    s.deliver(client, s.dispute(scenario, "dp_recording1", "created", "needs_response"))
    s.drain(database, clock)
    [held] = _accesses(database, disputed)
    assert held.status == "suspended" and _order(database, disputed).status == "disputed"
    assert "On hold" in client.get(f"/orders/{disputed}", headers=HTML).text
    s.deliver(client, s.dispute(scenario, "dp_recording1", "closed", "won"))
    s.drain(database, clock)
    [back] = _accesses(database, disputed)
    assert back.status == "valid" and _order(database, disputed).status == "paid"
    assert _outbox(database, "RecordingAccessStatusChanged")[-2:] == [
        {"statuses": {held.id: "suspended"}}, {"statuses": {held.id: "valid"}}]  # fmt: skip


def test_a_lost_dispute_revokes_the_access(
    client: TestClient, database: Database, clock: FixedClock,
) -> None:  # fmt: skip
    _, recording = _shop(client)
    order_id = _order_id(_buy(client, recording["id"], "rental"), "checkout")
    _pay(client, database, clock, order_id)
    scenario = _as_scenario(_order(database, order_id))
    s.deliver(client, s.dispute(scenario, "dp_recording2", "created", "needs_response"))
    s.deliver(client, s.dispute(scenario, "dp_recording2", "closed", "lost"))
    s.drain(database, clock)
    [access] = _accesses(database, order_id)
    assert access.status == "revoked"


def test_a_withdrawn_recording_and_a_retired_offer_are_refused_in_words(
    client: TestClient, database: Database,
) -> None:  # fmt: skip
    venue, recording = _shop(client)
    path = f"/recordings/{recording['id']}"
    before = client.get(path, headers=HTML).text
    # The rental's price changes: the form shown before names the retired offer.
    put_offers(client, venue, recording["id"], rental={**RENTAL, "price_amount": 599})
    retired = _buy(client, recording["id"], "rental", page=before)
    assert retired.status_code == 409
    assert re.search(r'id="offers-errors">\s*<p>This offer has changed\. Choose one of the '
                     r"offers below\.</p>", retired.text)  # fmt: skip
    assert "Pay €5.99" in retired.text  # the current offer, to choose again
    # Withdrawn: no new sales, said on the page.
    ok(client.post(f"/v1/recordings/{recording['id']}/withdraw", headers=venue.headers))
    withdrawn = _buy(client, recording["id"], "purchase", page=before)
    assert withdrawn.status_code == 409
    assert "This recording has been withdrawn: it is no longer sold." in withdrawn.text
    with database.unit_of_work() as uow:
        assert not uow.session.exec(
            select(Order).where(Order.recording_id == recording["id"])).all()  # fmt: skip


def test_the_form_says_what_is_wrong_beside_the_field(client: TestClient) -> None:
    _, recording = _shop(client)
    invalid = _buy(client, recording["id"], "rental", email="not an address")
    assert invalid.status_code == 422
    assert re.search(r'id="error-email-rental"[^>]*>Enter a valid e-mail address\.<', invalid.text)
    assert 'value="not an address"' in invalid.text  # what was typed is kept
    assert 'aria-invalid="true"' in invalid.text
    path = f"/recordings/{recording['id']}"
    form = _form(client.get(path, headers=HTML).text, "rental")
    forged = client.post(path, data={**form, "csrf_token": "x", "email": "fan@example.org"},
                         headers=HTML)  # fmt: skip
    assert forged.status_code == 403


def test_a_paid_offer_of_a_recording_without_split_rule_is_refused(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock,
) -> None:  # fmt: skip
    venue = make_venue(client)
    recording = make_recording(client, venue)
    put_offers(client, venue, recording["id"], free=True)
    ok(client.post(f"/v1/recordings/{recording['id']}/publish", headers=venue.headers))
    # Published free, then sold: offers may change after publishing, the rule is missing.
    put_offers(client, venue, recording["id"], rental=RENTAL)
    refused = _buy(client, recording["id"], "rental")
    assert refused.status_code == 409
    assert "This recording cannot be bought yet. Please ask the venue." in refused.text
    offer_id = _form(client.get(f"/recordings/{recording['id']}", headers=HTML).text,
                     "rental")["offer_id"]  # fmt: skip
    with pytest.raises(ServiceError) as raised:
        buying.buy_recording(
            database, cast(PaymentGateway, NoStripe()), settings, clock,
            recording_id=recording["id"], offer_id=offer_id, email="fan@example.org",
            country=None, locale="en",
        )  # fmt: skip
    assert (raised.value.status, raised.value.code) == (409, "recording_split_rule_missing")
    with database.unit_of_work() as uow:
        assert not uow.session.exec(
            select(Order).where(Order.recording_id == recording["id"])).all()  # fmt: skip


def test_the_json_api_buys_an_offer_as_ticket_orders_are_bought(
    client: TestClient, database: Database,
) -> None:  # fmt: skip
    venue, recording = _shop(client)
    offers = ok(client.get(f"/v1/recordings/{recording['id']}/offers", headers=venue.headers))
    rental = next(o for o in offers["data"] if o["kind"] == "rental")
    path = f"/v1/public/recordings/{recording['id']}/orders"
    body = {"offer_id": rental["id"], "email": "api@example.org", "country": "BE"}
    key = {"Idempotency-Key": "4f1d0c5e-6b0e-4a36-9a57-1b8f0f3c2a11"}
    created = ok(client.post(path, json=body, headers=key), 201)
    assert (created["status"], created["total_amount"], created["currency"]) == (
        "pending", 499, "EUR")  # fmt: skip
    assert created["payment"]["payment_intent_id"].startswith("pi_")
    assert created["id"].startswith("ord_") and created["order_token"]
    again = ok(client.post(path, json=body, headers=key), 201)
    assert again == created  # a replay, not a second order
    assert _order(database, created["id"]).recording_offer_id == rental["id"]
    unknown = client.post(path, json={**body, "offer_id": "rof_unknown"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "offer_not_found"
    assert "offer_id" in unknown.json()["error"]["fields"]
    stray = client.post(path, json={**body, "extra": 1})
    assert stray.status_code == 422
    missing = client.post("/v1/public/recordings/rec_unknown/orders", json=body)
    assert missing.status_code == 404


def test_with_paid_sales_closed_only_free_recordings_are_taken(
    client: TestClient, infra: Infrastructure, clock: FixedClock
) -> None:
    """An installation that closes paid sales of recordings (STREAMSVC_RECORDING_PAID_
    SALES=false) takes no money for a rental or a purchase; a free recording plays. Out
    of the box they are sold."""
    assert infra.settings().recording_paid_sales is True
    closed = infra.settings(order_rate_per_email=20, recording_paid_sales=False)
    with TestClient(create_app(closed, clock), raise_server_exceptions=False) as shop:
        venue = make_venue(shop)
        recording = published_recording(shop, venue)
        page = shop.get(f"/recordings/{recording['id']}", headers=HTML).text
        assert 'id="buy-form-rental"' not in page and 'id="soon-rental"' in page
        assert "On sale soon" in page
        offers = ok(shop.get(f"/v1/recordings/{recording['id']}/offers", headers=venue.headers))
        refused = shop.post(f"/v1/public/recordings/{recording['id']}/orders",
                            json={"offer_id": offers["data"][0]["id"],
                                  "email": "fan@example.org", "country": "NL"})  # fmt: skip
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "recording_sales_closed"
        free = published_recording(shop, venue, free=True, title="A free night")
        assert 'id="buy-form-free"' in shop.get(f"/recordings/{free['id']}", headers=HTML).text
