"""A recording's orders where staff look for orders: the console's order list (by e-mail,
by id, by the access code through the POST form), the order's page with the recording,
the offer, the amounts, the access and a rental's window, the console refund that
revokes the access, the watch link mailed again, and GET /v1/orders beside the event
orders (whose answers only gain the null recording fields). Finance reads, door staff
get 403, another venue 404."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col, select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.audit.models import AuditEntry
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.orders.models import Order
from streamsvc.outbox.models import OutboxMessage
from streamsvc.recordings.access import RecordingAccess
from tests.conftest import RecordingQueue
from tests.console.helpers import form_token, hidden, hybrid_shop, paid_order
from tests.factories import VenueHandle, bearer, ok
from tests.recordings import test_buying
from tests.recordings.helpers import published_recording
from tests.recordings.test_buying import _accesses, _buy, _order, _order_id, _pay
from tests.recordings.test_viewing import redeem
from tests.staff.helpers import admin_signed_in, browser, csrf, member_signed_in, post

pytestmark = pytest.mark.stripe
settings = test_buying.settings  # its fixture: paid offers are sold
TITLE = "Bill Evans Trio, live at the Bimhuis"
# What GET /v1/orders/{id} answered for an event's order before recordings were orders;
# only the two recording fields are new (null for an event's order).
EVENT_ORDER_KEYS = [
    "id", "event_id", "recording_id", "recording_offer_id", "email", "country", "status",
    "total_amount", "currency", "paid_amount", "refunded_amount", "dispute_status",
    "split_rule_version", "payment_intent_id", "expires_at", "paid_at", "created_at", "items",
    "refunds", "tickets",
]  # fmt: skip


def _signed_in_shop(
    client: TestClient, queue: RecordingQueue, database: Database, settings: Settings,
    clock: FixedClock,
) -> tuple[VenueHandle, Any]:  # fmt: skip
    """A venue whose admin is signed in on `client`, with a recording on sale."""
    client.headers["Accept-Language"] = "en"
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    venue = VenueHandle(admin.venue_id, admin.key, bearer(admin.key))
    return venue, published_recording(client, venue)


def _paid_rental(
    client: TestClient, database: Database, clock: FixedClock, recording_id: str,
    email: str = "jane@example.org",
) -> str:  # fmt: skip
    order_id = _order_id(_buy(client, recording_id, "rental", email=email), "checkout")
    _pay(client, database, clock, order_id)
    return order_id


def _set_access(database: Database, access_id: str, **values: Any) -> None:
    with database.unit_of_work() as uow:
        uow.session.execute(
            update(RecordingAccess).where(col(RecordingAccess.id) == access_id).values(**values)
        )


def _text_of(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:dd|td|p)>', page, re.S)
    assert found, (element_id, page[-4000:])
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found.group(1))).strip()


def _row_cells(page: str, order_id: str) -> list[str]:
    row = re.search(rf'<tr id="order-{order_id}">(.*?)</tr>', page, re.S)
    assert row, page[-4000:]
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]


def _confirm(client: TestClient, order_id: str, amount: str) -> tuple[Any, dict[str, str]]:
    """Ask for a refund on the order page and read the confirmation: (page, its form)."""
    page = client.get(f"/console/orders/{order_id}")
    confirm = post(client, f"/console/orders/{order_id}/refund/confirm",
                   {"amount": amount, "reason": "asked"}, token=form_token(page.text))  # fmt: skip
    assert confirm.status_code == 200, confirm.text[-3000:]
    fields = {name: hidden(confirm.text, name)
              for name in ("idempotency_key", "amount_minor", "reason")}  # fmt: skip
    fields["csrf_token"] = form_token(confirm.text)
    return confirm, fields


def test_the_console_lists_finds_and_shows_a_recording_order_with_its_access(
    client: TestClient, queue: RecordingQueue, database: Database, settings: Settings,
    clock: FixedClock,
) -> None:  # fmt: skip
    venue, recording = _signed_in_shop(client, queue, database, settings, clock)
    event, seat, _ = hybrid_shop(client, venue, clock.now(), title="Requiem")
    ticketed = paid_order(client, database, clock, event["id"], seat, email="jane@example.org")
    rental = _paid_rental(client, database, clock, recording["id"])
    clock.advance(minutes=5)
    # Left unpaid: pending.
    purchase = _order_id(
        _buy(client, recording["id"], "purchase", email="bob@example.org"), "checkout"
    )

    # Jane's orders, of the event and of the recording, side by side; times in Amsterdam.
    listing = client.get("/console/orders", params={"email": "jane@example.org"})
    assert listing.status_code == 200
    assert _row_cells(listing.text, rental) == [
        rental, "12/1/26, 1:00 PM", "jane@example.org", f"Recording: {TITLE}", "Paid", "€4.99",
        "€0.00"]  # fmt: skip
    assert _row_cells(listing.text, ticketed["id"])[3] == "Requiem"
    assert purchase not in listing.text
    pending = client.get("/console/orders", params={"status": "pending"}).text
    assert _row_cells(pending, purchase)[3:6] == [f"Recording: {TITLE}", "Pending", "€12.99"]
    assert rental not in pending

    by_id = client.get("/console/orders", params={"order": rental}, follow_redirects=False)
    assert (by_id.status_code, by_id.headers["location"]) == (303, f"/console/orders/{rental}")
    [access] = _accesses(database, rental)
    # The access code is a bearer secret: found through the POST form, as a ticket code.
    found = post(client, "/console/orders/find-ticket", {"code": access.code},
                 token=csrf(client, "/console/orders"))  # fmt: skip
    assert (found.status_code, found.headers["location"]) == (303, f"/console/orders/{rental}")

    detail = client.get(f"/console/orders/{rental}")
    assert detail.status_code == 200
    text = detail.text
    assert _text_of(text, "order-recording") == TITLE
    assert f'<a href="/console/recordings/{recording["id"]}">' in text
    assert _text_of(text, "order-offer") == "Rental"
    assert _text_of(text, "order-status") == "Paid"
    assert _text_of(text, "order-total") == "€4.99"
    assert _text_of(text, "order-paid") == "€4.99 · 12/1/26, 1:00 PM"
    assert _text_of(text, "order-refunded") == "€0.00"
    assert _text_of(text, "order-left") == "€4.99"
    assert _text_of(text, "access-status") == "Valid"
    assert _text_of(text, "access-terms") == (
        "Start within 30 days; plays for 48 hours once started.")  # fmt: skip
    assert _text_of(text, "access-start-by") == "12/31/26, 1:00 PM"  # paid + 30 days
    assert _text_of(text, "access-window") == "Not started yet"
    assert access.code not in text  # never on a staff page
    assert 'id="tickets"' not in text and "/refund/confirm" in text
    assert "Mail the watch link again" in text

    # Had the deadline passed unstarted, the page would say the rental can no longer play.
    _set_access(database, access.id, start_by=clock.now() - timedelta(minutes=1))
    assert _text_of(client.get(f"/console/orders/{rental}").text, "access-window") == (
        "This rental was not started in time, so it can no longer be watched.")  # fmt: skip
    _set_access(database, access.id, start_by=access.start_by)

    # The buyer starts watching on a TV at 13:10 Amsterdam: the window and the device show.
    clock.advance(minutes=5)
    ok(redeem(client, access.code), 201)
    text = client.get(f"/console/orders/{rental}").text
    assert _text_of(text, "access-window") == (
        "started 12/1/26, 1:10 PM, plays until 12/3/26, 1:10 PM")  # fmt: skip
    session = re.search(r'<tr id="session-[^"]+"><td><code>([^<]+)</code></td><td>([^<]+)</td>',
                        text)  # fmt: skip
    assert session and session.groups() == (access.id, "tv")

    # A window opened 50 hours ago is over (the staff session would not last that long on
    # the clock, so the window is moved instead), and the page says so.
    opened = clock.now() - timedelta(hours=50)
    _set_access(database, access.id, started_at=opened, ends_at=opened + timedelta(hours=48))
    assert _text_of(client.get(f"/console/orders/{rental}").text, "access-window") == (
        "started 11/29/26, 11:10 AM, plays until 12/1/26, 11:10 AM · The viewing window of "
        "this rental is over.")  # fmt: skip

    # The recording's sales table leads to the order's page.
    sales = client.get(f"/console/recordings/{recording['id']}").text
    assert re.search(rf'<tr id="sale-{rental}">\s*<th scope="row"><a href="/console/orders/'
                     rf'{rental}">{rental}</a></th>', sales)  # fmt: skip


def test_a_refund_from_the_console_revokes_the_recording_access(
    client: TestClient, queue: RecordingQueue, database: Database, settings: Settings,
    clock: FixedClock,
) -> None:  # fmt: skip
    venue, recording = _signed_in_shop(client, queue, database, settings, clock)
    order_id = _paid_rental(client, database, clock, recording["id"])
    [access] = _accesses(database, order_id)

    # A part back: the access stays valid.
    confirm, fields = _confirm(client, order_id, "1,00")
    assert "Refund €1.00 of €4.99 to jane@example.org?" in confirm.text
    assert "can no longer watch" not in confirm.text
    done = client.post(f"/console/orders/{order_id}/refunds", data=fields, follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (
        303, f"/console/orders/{order_id}?done=refunded")  # fmt: skip
    assert [a.status for a in _accesses(database, order_id)] == ["valid"]
    page = client.get(done.headers["location"]).text
    assert _text_of(page, "order-status") == "Partly refunded"
    assert _text_of(page, "order-left") == "€3.99"
    assert _text_of(page, "access-status") == "Valid"

    # The rest (an empty amount): the buyer can no longer watch.
    confirm, fields = _confirm(client, order_id, "")
    assert fields["amount_minor"] == "399"
    assert "This is all that is left: the buyer can no longer watch the recording." in confirm.text
    again = dict(fields)
    for _ in range(2):  # a double submit refunds once
        answer = client.post(f"/console/orders/{order_id}/refunds", data=again,
                             follow_redirects=False)  # fmt: skip
        assert answer.status_code == 303
    [revoked] = _accesses(database, order_id)
    assert revoked.status == "revoked"
    with database.unit_of_work() as uow:
        changes = [dict(m.payload) for m in uow.session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == "RecordingAccessStatusChanged")
            .order_by(col(OutboxMessage.id)))]  # fmt: skip
    assert changes == [{"statuses": {access.id: "revoked"}}]
    staff = ok(client.get(f"/v1/orders/{order_id}", headers=venue.headers))
    assert sorted(r["amount"] for r in staff["refunds"]) == [100, 399]
    assert (staff["status"], staff["refunded_amount"]) == ("refunded", 499)
    assert queue.names().count("payments.submit_refund") == 2

    page = client.get(f"/console/orders/{order_id}").text
    assert _text_of(page, "access-status") == "Revoked"
    assert _text_of(page, "order-refunded") == "€4.99"
    assert "/refund/confirm" not in page and "Mail the watch link again" not in page
    refunds = re.findall(r"<tr><td>([^<]+)</td><td>(€[\d.]+)</td>", page)
    assert [(re.sub(r"\s+", " ", when), amount) for when, amount in refunds] == [
        ("12/1/26, 1:00 PM", "€1.00"), ("12/1/26, 1:00 PM", "€3.99")]  # fmt: skip
    # The buyer's player is refused from now on.
    refused = redeem(client, access.code)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "access_revoked"


def test_the_watch_link_is_mailed_again_from_the_console(
    client: TestClient, queue: RecordingQueue, database: Database, settings: Settings,
    clock: FixedClock,
) -> None:  # fmt: skip
    _, recording = _signed_in_shop(client, queue, database, settings, clock)
    order_id = _paid_rental(client, database, clock, recording["id"])
    with database.unit_of_work() as uow:
        stored = uow.session.get(Order, order_id)
        assert stored is not None
        stored.tickets_mailed_at = clock.now()  # mailed once already
        uow.session.add(stored)
    queue.sent.clear()
    page = client.get(f"/console/orders/{order_id}")
    resent = post(client, f"/console/orders/{order_id}/resend", {}, token=form_token(page.text))
    assert (resent.status_code, resent.headers["location"]) == (
        303, f"/console/orders/{order_id}?done=resent")  # fmt: skip
    assert queue.sent == [("recordings.send_access", (order_id,))]
    assert _order(database, order_id).tickets_mailed_at is None
    shown = client.get(resent.headers["location"]).text
    assert _text_of(shown, "order-done") == "The watch link is mailed again."
    with database.unit_of_work() as uow:
        actions = uow.session.exec(
            select(AuditEntry.action).where(AuditEntry.object_id == order_id)).all()  # fmt: skip
    assert "order.access_resent" in actions and "order.tickets_resent" not in actions


def test_the_api_answers_a_recording_order_and_keeps_event_orders_as_they_were(
    client: TestClient, queue: RecordingQueue, database: Database, settings: Settings,
    clock: FixedClock,
) -> None:  # fmt: skip
    venue, recording = _signed_in_shop(client, queue, database, settings, clock)
    event, seat, _ = hybrid_shop(client, venue, clock.now())
    ticketed = paid_order(client, database, clock, event["id"], seat, quantity=1)
    clock.advance(minutes=1)  # the list is oldest first
    order_id = _paid_rental(client, database, clock, recording["id"])
    offer_id = _order(database, order_id).recording_offer_id
    assert offer_id is not None and offer_id.startswith("rof_")

    answer = ok(client.get(f"/v1/orders/{order_id}", headers=venue.headers))
    assert list(answer) == EVENT_ORDER_KEYS
    assert (answer["event_id"], answer["recording_id"], answer["recording_offer_id"]) == (
        None, recording["id"], offer_id)  # fmt: skip
    assert (answer["status"], answer["total_amount"], answer["paid_amount"],
            answer["currency"], answer["email"]) == ("paid", 499, 499, "EUR", "jane@example.org")  # fmt: skip
    assert (answer["items"], answer["tickets"], answer["refunds"]) == ([], [], [])

    event_answer = ok(client.get(f"/v1/orders/{ticketed['id']}", headers=venue.headers))
    assert list(event_answer) == EVENT_ORDER_KEYS
    assert (event_answer["event_id"], event_answer["recording_id"],
            event_answer["recording_offer_id"]) == (event["id"], None, None)  # fmt: skip
    assert [i["unit_amount"] for i in event_answer["items"]] == [2500]

    listing = ok(client.get("/v1/orders", headers=venue.headers))
    assert [(o["id"], o["event_id"], o["recording_id"], o["recording_offer_id"])
            for o in listing["data"]] == [
        (ticketed["id"], event["id"], None, None), (order_id, None, recording["id"], offer_id),
    ]  # fmt: skip
    by_recording = ok(client.get("/v1/orders", params={"recording_id": recording["id"]},
                                 headers=venue.headers))  # fmt: skip
    assert [o["id"] for o in by_recording["data"]] == [order_id]
    by_event = ok(client.get("/v1/orders", params={"event_id": event["id"]},
                             headers=venue.headers))  # fmt: skip
    assert [o["id"] for o in by_event["data"]] == [ticketed["id"]]

    spec = client.get("/openapi.json").json()["components"]["schemas"]["OrderOut"]
    assert "Null for the order of a recording" in spec["properties"]["event_id"]["description"]
    assert "recording_id" in spec["properties"] and "recording_offer_id" in spec["properties"]


def test_finance_reads_door_is_refused_and_another_venue_finds_nothing(
    client: TestClient, queue: RecordingQueue, database: Database, settings: Settings,
    clock: FixedClock,
) -> None:  # fmt: skip
    venue, recording = _signed_in_shop(client, queue, database, settings, clock)
    order_id = _paid_rental(client, database, clock, recording["id"])
    [access] = _accesses(database, order_id)
    _, fields = _confirm(client, order_id, "1")  # a confirmation an admin was shown
    base = f"/console/orders/{order_id}"

    finance = member_signed_in(client, queue, database, settings, clock.now(),
                               "fred@example.org", "finance")  # fmt: skip
    read = finance.get(base)
    assert read.status_code == 200 and _text_of(read.text, "access-status") == "Valid"
    assert "/refund/confirm" not in read.text and "/resend" not in read.text
    token = form_token(read.text)
    for path, data in ((f"{base}/refund/confirm", {"amount": "1"}),
                       (f"{base}/refunds", {k: v for k, v in fields.items() if k != "csrf_token"}),
                       (f"{base}/resend", {})):  # fmt: skip
        assert post(finance, path, data, token=token).status_code == 403, path

    door = member_signed_in(client, queue, database, settings, clock.now(),
                            "dora@example.org", "door", address="198.51.100.9")  # fmt: skip
    for path in ("/console/orders", base):
        assert door.get(path, follow_redirects=False).status_code == 403, path
    assert post(door, f"{base}/refund/confirm", {"amount": "1"},
                token=form_token(door.get("/console/check-in").text)).status_code == 403  # fmt: skip

    other = browser(client, "198.51.100.50")
    olga = admin_signed_in(other, queue, database, settings, clock.now(), email="olga@example.org",
                           name="Concertgebouw")  # fmt: skip
    olga_headers = bearer(olga.key)
    other.headers["Accept-Language"] = "en"
    assert other.get(base, follow_redirects=False).status_code == 404
    token = csrf(other, "/console/orders")
    assert post(other, f"{base}/refund/confirm", {"amount": "1"}, token=token).status_code == 404
    assert post(other, f"{base}/refunds", {**fields, "csrf_token": token},
                token=token).status_code == 404  # fmt: skip
    assert post(other, f"{base}/resend", {}, token=token).status_code == 404
    missing = post(other, "/console/orders/find-ticket", {"code": access.code}, token=token)
    assert missing.status_code == 404 and order_id not in missing.text
    searched = other.get("/console/orders", params={"order": order_id}, follow_redirects=False)
    assert searched.status_code == 200 and "No order of this venue has this id." in searched.text
    assert order_id not in other.get("/console/orders").text
    assert other.get(f"/v1/orders/{order_id}", headers=olga_headers).status_code == 404
    refund = other.post(f"/v1/orders/{order_id}/refunds", json={}, headers=olga_headers)
    assert refund.status_code == 404
    assert ok(other.get("/v1/orders", headers=olga_headers))["data"] == []

    staff = ok(client.get(f"/v1/orders/{order_id}", headers=venue.headers))
    assert staff["refunds"] == [] and staff["status"] == "paid"
    assert [a.status for a in _accesses(database, order_id)] == ["valid"]
