"""Rescheduling an event with sales (issue 15): the console's confirmation names the
buyers, each is mailed once in their language with the order link's token in the
fragment, the catalogue, JSON-LD and iCal show the move, and the order page refunds
the whole order on request within the venue's period, and refuses it after."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.audit.models import AuditEntry
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import rescheduling
from streamsvc.orders.models import RescheduleNotice
from streamsvc.orders.refunds import submit_refund
from streamsvc.payments.factory import gateway_from_settings
from streamsvc.payments.gateway import PaymentGateway
from tests.console.helpers import Shop, console_shop, form_token
from tests.factories import ok
from tests.mailbox import Mailbox
from tests.orders import scenarios as s
from tests.staff.helpers import browser, member_signed_in, post
from tests.stripe_helpers import pay_with_card

pytestmark = pytest.mark.stripe
HTML = {"Accept": "text/html"}
NEW_START = "2026-12-20T19:00"  # Europe/Amsterdam: 18:00 UTC
NEW_END = "2026-12-20T22:00"
_URL = re.compile(r"https?://[^\s\"<>]+")


@pytest.fixture
def gateway(settings: Settings) -> Iterator[PaymentGateway]:
    found = gateway_from_settings(settings)
    yield found
    getattr(found, "close", lambda: None)()


def _paid(client: TestClient, database: Database, clock: FixedClock, localstripe: str,
          shop: Shop, email: str, language: str = "en") -> dict[str, Any]:  # fmt: skip
    """Two seats bought through the API in `language`, paid at localstripe, confirmed."""
    body = {"email": email, "country": "NL",
            "items": [{"tier_id": shop.seat_tier, "quantity": 2}]}  # fmt: skip
    order: dict[str, Any] = ok(
        client.post(f"/v1/public/events/{shop.event['id']}/orders", json=body,
                    headers={"Accept-Language": language}), 201,
    )  # fmt: skip
    pay_with_card(localstripe, order["payment"]["payment_intent_id"])
    s.deliver(client, s.succeeded(order))
    s.drain(database, clock)
    return order


def _confirm(client: TestClient, event_id: str, **typed: str) -> Any:
    page = client.get(f"/console/events/{event_id}/reschedule")
    assert page.status_code == 200, page.text
    fields = {"starts_at": NEW_START, "ends_at": NEW_END, "refund_days": "7", **typed}
    return post(client, f"/console/events/{event_id}/reschedule/confirm", fields,
                token=form_token(page.text))  # fmt: skip


def _reschedule(client: TestClient, event_id: str) -> Any:
    confirm = _confirm(client, event_id)
    assert confirm.status_code == 200, confirm.text
    fields = {name: re.search(rf'name="{name}" value="([^"]*)"', confirm.text).group(1)  # type: ignore[union-attr]
              for name in ("starts_at", "ends_at", "refund_days")}  # fmt: skip
    return post(client, f"/console/events/{event_id}/reschedule", fields,
                token=form_token(confirm.text))  # fmt: skip


def _send_notices(queue: Any, database: Database, settings: Settings, mailbox: Mailbox,
                  now: datetime) -> list[EmailMessage]:  # fmt: skip
    """Run the notice tasks the request enqueued, as the worker does; the mails sent."""
    smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": mailbox.port})
    before = len(mailbox.received)
    notices = [args[0] for name, args in queue.sent if name == "orders.send_reschedule_notice"]
    for notice_id in notices:
        assert rescheduling.mail_notice(database, smtp, notice_id, now) is True
        assert rescheduling.mail_notice(database, smtp, notice_id, now) is False  # once
    return [received.message for received in mailbox.received[before:]]


def _text(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    content: str = part.get_content()
    return content


def _open_order(buyer: TestClient, link: str) -> str:
    """Follow a mailed order link in a browser: the fragment's token is handed over."""
    parts = urlsplit(link)
    order_path, token = parts.path, parts.fragment.removeprefix("token=")
    page = buyer.get(order_path, headers=HTML)
    csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    handed = buyer.post(f"{order_path}/token", json={"token": token},
                        headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert handed.status_code == 204, handed.text
    return order_path


def test_rescheduling_mails_every_buyer_and_the_order_page_refunds_within_the_period(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    localstripe: str, mailbox: Mailbox, gateway: PaymentGateway,
) -> None:  # fmt: skip
    shop = console_shop(client, queue, database, settings, clock)
    event_id = shop.event["id"]
    first = _paid(client, database, clock, localstripe, shop, "fan@example.org")
    second = _paid(client, database, clock, localstripe, shop, "fan@example.nl", "nl")

    # The confirmation names the buyers and the end of the refund period; nothing moves yet.
    confirm = _confirm(client, event_id)
    assert confirm.status_code == 200
    assert "2 buyers will be mailed the new time" in confirm.text
    assert ok(client.get(f"/v1/events/{event_id}", headers=shop.venue.headers))["starts_at"] == (
        shop.event["starts_at"].replace("+00:00", "Z")
    )
    queue.sent.clear()
    done = _reschedule(client, event_id)
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/events/{event_id}?done=rescheduled#reschedule"
    assert "Rescheduled from" in client.get(f"/console/events/{event_id}").text
    event = ok(client.get(f"/v1/events/{event_id}", headers=shop.venue.headers))
    assert event["starts_at"] == "2026-12-20T18:00:00Z"
    with database.unit_of_work() as uow:
        [entry] = uow.session.exec(
            select(AuditEntry).where(AuditEntry.action == "event.rescheduled")
        ).all()
        assert (entry.actor_kind, entry.object_id) == ("staff", event_id)
        assert entry.changes["buyers_notified"] == 2
        assert entry.changes["starts_at"]["after"] == "2026-12-20T18:00:00+00:00"

    # One mail per buyer, in the buyer's language, with the order link's token in the
    # fragment only: no secret in a path or a query.
    mails = _send_notices(queue, database, settings, mailbox, clock.now())
    by_address = {str(m["To"]): m for m in mails}
    assert sorted(by_address) == ["fan@example.nl", "fan@example.org"]
    english, dutch = by_address["fan@example.org"], by_address["fan@example.nl"]
    assert str(english["Content-Language"]) == "en" and str(dutch["Content-Language"]) == "nl"
    assert "La Traviata" in str(english["Subject"]) and str(english["Subject"]).startswith("New")
    assert "Sunday 20 December 2026, 19:00" in _text(english, "plain")
    assert "zondag 20 december 2026, 19:00" in _text(dutch, "plain")
    links = {}
    for order, message in ((first, english), (second, dutch)):
        urls = _URL.findall(_text(message, "plain")) + _URL.findall(_text(message, "html"))
        assert urls
        for url in urls:
            parts = urlsplit(url)
            assert parts.query == "" and order["order_token"] not in parts.path
        [link] = {u for u in urls if "#token=" in u}
        assert link.endswith(f"/orders/{order['id']}#token={order['order_token']}")
        links[order["id"]] = link

    # The buyer opens the link: the new time, the old one, and the refund button.
    buyer = browser(client, "203.0.113.9")
    path = _open_order(buyer, links[first["id"]])
    page = buyer.get(path, headers=HTML)
    assert "Rescheduled" in page.text and "Ask for a refund" in page.text
    assert "€50.00" in page.text
    without_csrf = buyer.post(f"{path}/refund", data={}, headers=HTML, follow_redirects=False)
    assert without_csrf.status_code == 403
    token = form_token(page.text)
    asked = buyer.post(f"{path}/refund", data={"csrf_token": token}, follow_redirects=False)
    again = buyer.post(f"{path}/refund", data={"csrf_token": token}, follow_redirects=False)
    assert asked.status_code == again.status_code == 303
    staff = ok(client.get(f"/v1/orders/{first['id']}", headers=shop.venue.headers))
    [refund] = staff["refunds"]  # asked twice, refunded once
    assert (refund["amount"], refund["origin"]) == (5000, "event_rescheduled")
    assert staff["status"] == "refunded"
    assert {t["status"] for t in staff["tickets"]} == {"revoked"}
    assert [n for n, _ in queue.sent].count("payments.submit_refund") == 1
    stored = submit_refund(database, gateway, refund["id"], clock.now())
    assert stored.status == "succeeded" and stored.stripe_refund_id  # at localstripe
    with database.unit_of_work() as uow:
        [refunded] = uow.session.exec(
            select(AuditEntry).where(AuditEntry.action == "order.refunded")
        ).all()
        assert (refunded.actor_kind, refunded.actor_id) == ("buyer", first["id"])
    assert "Ask for a refund" not in buyer.get(path, headers=HTML).text

    # After the period: no button, and a direct POST is refused in words.
    clock.advance(days=7)
    late = browser(client, "203.0.113.10")
    path = _open_order(late, links[second["id"]])
    page = late.get(path, headers={**HTML, "Accept-Language": "en"})
    assert "Rescheduled" in page.text and "Ask for a refund" not in page.text
    csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    refused = late.post(f"{path}/refund", data={"csrf_token": csrf},
                        headers={"Accept-Language": "en"}, follow_redirects=False)  # fmt: skip
    assert refused.status_code == 409
    assert "The period to ask for a refund after the new date has ended." in refused.text
    staff = ok(client.get(f"/v1/orders/{second['id']}", headers=shop.venue.headers))
    assert staff["status"] == "paid" and staff["refunds"] == []


def test_the_catalogue_json_ld_and_ical_show_the_event_as_rescheduled(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    localstripe: str,
) -> None:  # fmt: skip
    shop = console_shop(client, queue, database, settings, clock)
    event_id = shop.event["id"]
    _paid(client, database, clock, localstripe, shop, "fan@example.org")
    plain = client.get(f"/events/{event_id}", headers=HTML).text
    assert "EventScheduled" in plain and "previousStartDate" not in plain
    assert _reschedule(client, event_id).status_code == 303

    page = client.get(f"/events/{event_id}", headers=HTML).text
    [raw] = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    jsonld = json.loads(raw)
    assert jsonld["eventStatus"] == "https://schema.org/EventRescheduled"
    assert jsonld["previousStartDate"] == "2026-12-11T12:00:00+00:00"
    assert jsonld["startDate"] == "2026-12-20T18:00:00+00:00"
    shown = page.replace("\u202f", " ")  # CLDR puts a narrow space before PM
    assert "New time: Sunday, December 20, 2026, 7:00 PM" in shown
    assert "(was Friday, December 11, 2026, 1:00 PM)" in shown
    catalogue = client.get("/", headers=HTML).text.replace("\u202f", " ")
    assert "Rescheduled" in catalogue and "(was 12/11/26, 1:00 PM)" in catalogue
    listing = ok(client.get(f"/v1/public/events/{event_id}"))
    assert listing["previous_starts_at"] == "2026-12-11T12:00:00Z"
    ical = client.get("/v1/public/events.ics").text
    assert "DTSTART:20261220T180000Z" in ical
    [sequence] = re.findall(r"SEQUENCE:(\d+)", ical)
    assert int(sequence) > 0


def test_only_an_admin_reschedules_and_only_an_event_on_sale(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    localstripe: str,
) -> None:  # fmt: skip
    shop = console_shop(client, queue, database, settings, clock)
    event_id = shop.event["id"]
    _paid(client, database, clock, localstripe, shop, "fan@example.org")
    finance = member_signed_in(client, queue, database, settings, clock.now(),
                               "fred@example.org", "finance")  # fmt: skip
    assert finance.get(f"/console/events/{event_id}/reschedule").status_code == 403
    assert "/reschedule" not in finance.get(f"/console/events/{event_id}").text
    token = form_token(finance.get("/console/account").text)
    for path in (f"/console/events/{event_id}/reschedule/confirm",
                 f"/console/events/{event_id}/reschedule"):  # fmt: skip
        answer = post(finance, path, {"starts_at": NEW_START, "ends_at": NEW_END,
                                      "refund_days": "7"}, token=token)  # fmt: skip
        assert answer.status_code == 403
    # The start cannot move silently: an event with sales is rescheduled.
    patched = client.patch(f"/v1/events/{event_id}", headers=shop.venue.headers,
                           json={"starts_at": "2026-12-20T18:00:00Z",
                                 "ends_at": "2026-12-20T21:00:00Z"})  # fmt: skip
    assert patched.status_code == 409
    assert patched.json()["error"]["code"] == "reschedule_required"
    with database.unit_of_work() as uow:
        assert uow.session.exec(select(RescheduleNotice)).all() == []
        assert (
            uow.session.exec(
                select(AuditEntry).where(AuditEntry.action == "event.rescheduled")
            ).all()
            == []
        )

    # Mistakes are named beside their fields, in the page's language.
    past = _confirm(client, event_id, starts_at="2026-11-30T20:00", refund_days="0")
    assert past.status_code == 422
    assert "must be in the future" in past.text and "between 1 and 90 days" in past.text
    dutch = client.get(f"/console/events/{event_id}/reschedule",
                       headers={"Accept-Language": "nl"})  # fmt: skip
    assert dutch.status_code == 200

    # Through the API too (admin key), the end keeping the event's length by default.
    moved = ok(client.post(f"/v1/events/{event_id}/reschedule", headers=shop.venue.headers,
                           json={"starts_at": "2027-01-05T19:00:00Z"}))  # fmt: skip
    assert moved["ends_at"] == "2027-01-05T22:00:00Z"
    assert moved["previous_starts_at"] == "2026-12-11T12:00:00Z"
    assert moved["refund_until"] == "2026-12-15T12:00:00Z"  # STREAMSVC_RESCHEDULE_REFUND_DAYS
    assert moved["buyers_notified"] == 1
    clock.advance(days=40)  # live by now: too late to move
    late = client.post(f"/v1/events/{event_id}/reschedule", headers=shop.venue.headers,
                       json={"starts_at": datetime(2027, 3, 1, tzinfo=UTC).isoformat()})  # fmt: skip
    assert late.status_code == 409 and late.json()["error"]["code"] == "not_reschedulable"
