"""/console/orders: search (a ticket code only by POST), order detail, refunds through a
confirmation that refunds once, ticket revocation, the mail sent again; finance reads
only, door sees nothing of it."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
import redis
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.audit.models import AuditEntry
from streamsvc.checkin.models import Admission
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.orders.models import Order
from tests.console.helpers import console_shop, form_token, hidden, paid_order, tickets
from tests.factories import buy, ok
from tests.staff.helpers import browser, csrf, member_signed_in, post

pytestmark = pytest.mark.stripe


def _refund(client: TestClient, order_id: str, amount: str) -> tuple[Any, dict[str, str]]:
    """Ask for a refund and read the confirmation page: (its response, its form)."""
    page = client.get(f"/console/orders/{order_id}")
    confirm = post(client, f"/console/orders/{order_id}/refund/confirm",
                   {"amount": amount, "reason": "late start"}, token=form_token(page.text))  # fmt: skip
    assert confirm.status_code == 200, confirm.text
    fields = {name: hidden(confirm.text, name)
              for name in ("idempotency_key", "amount_minor", "reason")}  # fmt: skip
    fields["csrf_token"] = form_token(confirm.text)
    return confirm, fields


def test_the_admin_finds_orders_by_email_id_and_ticket_code(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = console_shop(client, queue, database, settings, clock)
    mine = paid_order(client, database, clock, shop.event["id"], shop.seat_tier,
                      email="fan@example.org")  # fmt: skip
    other = paid_order(client, database, clock, shop.event["id"], shop.stream_tier,
                       email="someone@example.org")  # fmt: skip

    listing = client.get("/console/orders", params={"email": "fan@example.org"})
    assert listing.status_code == 200
    assert mine["id"] in listing.text and other["id"] not in listing.text
    everything = client.get("/console/orders", params={"event": shop.event["id"], "status": "paid"})
    assert mine["id"] in everything.text and other["id"] in everything.text
    assert other["id"] not in client.get("/console/orders", params={"status": "refunded"}).text

    by_id = client.get("/console/orders", params={"order": other["id"]}, follow_redirects=False)
    assert by_id.status_code == 303
    assert by_id.headers["location"] == f"/console/orders/{other['id']}"
    assert (
        "No order of this venue" in client.get("/console/orders", params={"order": "ord_nope"}).text
    )

    code = tickets(client, shop, mine["id"])[0]["code"]
    # A code in the URL searches nothing: codes are secrets, searched by POST only.
    in_url = client.get("/console/orders", params={"code": code}, follow_redirects=False)
    assert in_url.status_code == 200 and code not in in_url.text
    assert mine["id"] in in_url.text and other["id"] in in_url.text  # not filtered by it
    found = post(client, "/console/orders/find-ticket", {"code": code},
                 token=csrf(client, "/console/orders"))  # fmt: skip
    assert found.status_code == 303
    assert found.headers["location"] == f"/console/orders/{mine['id']}"
    missing = post(client, "/console/orders/find-ticket", {"code": "not-a-code"},
                   token=csrf(client, "/console/orders"))  # fmt: skip
    assert missing.status_code == 404 and "No ticket of this venue has this code" in missing.text

    detail = client.get(f"/console/orders/{mine['id']}")
    assert detail.status_code == 200
    assert "fan@example.org" in detail.text and "Stalls" in detail.text
    for ticket in tickets(client, shop, mine["id"]):
        assert ticket["id"] in detail.text and ticket["code"] not in detail.text


def test_a_double_submitted_refund_refunds_once_then_the_rest(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = console_shop(client, queue, database, settings, clock)
    order = paid_order(client, database, clock, shop.event["id"], shop.seat_tier)  # 2 x 25.00
    confirm, fields = _refund(client, order["id"], "5")
    assert "€5.00" in confirm.text and "€50.00" in confirm.text
    assert fields["amount_minor"] == "500"
    first = client.post(f"/console/orders/{order['id']}/refunds", data=fields,
                        follow_redirects=False)  # fmt: skip
    again = client.post(f"/console/orders/{order['id']}/refunds", data=fields,
                        follow_redirects=False)  # fmt: skip
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == f"/console/orders/{order['id']}?done=refunded"
    staff = ok(client.get(f"/v1/orders/{order['id']}", headers=shop.venue.headers))
    assert [r["amount"] for r in staff["refunds"]] == [500]
    assert staff["status"] == "partially_refunded"
    assert {t["status"] for t in staff["tickets"]} == {"valid"}
    assert [n for n, _ in queue.sent].count("payments.submit_refund") == 1

    # More than is left is refused beside the field, in words with the amount.
    page = client.get(f"/console/orders/{order['id']}")
    too_much = post(client, f"/console/orders/{order['id']}/refund/confirm", {"amount": "45,01"},
                    token=form_token(page.text))  # fmt: skip
    assert too_much.status_code == 422 and "at most €45.00" in too_much.text

    # The rest: an empty amount is all that is left.
    confirm, fields = _refund(client, order["id"], "")
    assert fields["amount_minor"] == "4500"
    done = client.post(f"/console/orders/{order['id']}/refunds", data=fields,
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    staff = ok(client.get(f"/v1/orders/{order['id']}", headers=shop.venue.headers))
    assert sorted(r["amount"] for r in staff["refunds"]) == [500, 4500]
    assert staff["status"] == "refunded"
    assert {t["status"] for t in staff["tickets"]} == {"revoked"}
    page = client.get(f"/console/orders/{order['id']}")
    assert "/refund/confirm" not in page.text  # nothing left to refund
    with database.unit_of_work() as uow:
        refunded = uow.session.exec(
            select(AuditEntry).where(AuditEntry.action == "order.refunded")
        ).all()
    assert sorted(e.changes["amount"] for e in refunded) == [500, 4500]


def test_a_refund_needs_the_csrf_token(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = console_shop(client, queue, database, settings, clock)
    order = paid_order(client, database, clock, shop.event["id"], shop.seat_tier)
    _, fields = _refund(client, order["id"], "5")
    for token in ("", "forged"):
        answer = client.post(f"/console/orders/{order['id']}/refunds",
                             data={**fields, "csrf_token": token}, follow_redirects=False)  # fmt: skip
        assert answer.status_code == 403
    cross = client.post(f"/console/orders/{order['id']}/refunds", data=fields,
                        headers={"Origin": "https://evil.example"}, follow_redirects=False)  # fmt: skip
    assert cross.status_code == 403
    staff = ok(client.get(f"/v1/orders/{order['id']}", headers=shop.venue.headers))
    assert staff["refunds"] == []


def test_revoking_a_ticket_and_mailing_the_tickets_again(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = console_shop(client, queue, database, settings, clock)
    order = paid_order(client, database, clock, shop.event["id"], shop.seat_tier)
    first, second = tickets(client, shop, order["id"])
    page = client.get(f"/console/orders/{order['id']}")
    revoked = post(client, f"/console/orders/{order['id']}/tickets/{first['id']}/revoke", {},
                   token=form_token(page.text))  # fmt: skip
    assert revoked.status_code == 303
    assert {t["id"]: t["status"] for t in tickets(client, shop, order["id"])} == {
        first["id"]: "revoked", second["id"]: "valid"}  # fmt: skip

    with database.unit_of_work() as uow:
        stored = uow.session.get(Order, order["id"])
        assert stored is not None
        stored.tickets_mailed_at = clock.now()
        uow.session.add(stored)
    queue.sent.clear()
    resent = post(client, f"/console/orders/{order['id']}/resend", {},
                  token=form_token(page.text))  # fmt: skip
    assert resent.status_code == 303
    assert resent.headers["location"].endswith("?done=resent")
    with database.unit_of_work() as uow:
        stored = uow.session.get(Order, order["id"])
        assert stored is not None and stored.tickets_mailed_at is None
    assert "The ticket mail is sent again." in client.get(resent.headers["location"]).text


def test_finance_reads_orders_but_cannot_change_them_and_door_sees_none(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = console_shop(client, queue, database, settings, clock)
    order = paid_order(client, database, clock, shop.event["id"], shop.seat_tier)
    [ticket, _] = tickets(client, shop, order["id"])
    _, fields = _refund(client, order["id"], "5")  # a confirmation an admin was shown
    finance = member_signed_in(client, queue, database, settings, clock.now(),
                               "fred@example.org", "finance")  # fmt: skip
    assert finance.get("/console/orders").status_code == 200
    detail = finance.get(f"/console/orders/{order['id']}")
    assert detail.status_code == 200 and order["id"] in detail.text
    assert "/refund/confirm" not in detail.text and "/revoke" not in detail.text
    token = form_token(detail.text)
    base = f"/console/orders/{order['id']}"
    for path, data in ((f"{base}/refund/confirm", {"amount": "5"}),
                       (f"{base}/refunds", {k: v for k, v in fields.items() if k != "csrf_token"}),
                       (f"{base}/tickets/{ticket['id']}/revoke", {}),
                       (f"{base}/resend", {})):  # fmt: skip
        assert post(finance, path, data, token=token).status_code == 403, path
    staff = ok(client.get(f"/v1/orders/{order['id']}", headers=shop.venue.headers))
    assert staff["refunds"] == [] and {t["status"] for t in staff["tickets"]} == {"valid"}

    door = member_signed_in(client, queue, database, settings, clock.now(),
                            "dora@example.org", "door", address="198.51.100.9")  # fmt: skip
    for path in ("/console/orders", f"/console/orders/{order['id']}", "/console/audit",
                 "/console/members", "/console/api-keys"):  # fmt: skip
        assert door.get(path, follow_redirects=False).status_code == 403, path
    assert door.get("/console/check-in").status_code == 200
    nav = door.get("/console/check-in").text
    assert 'href="/console/orders"' not in nav and 'href="/console/audit"' not in nav
    assert post(door, f"{base}/refund/confirm", {"amount": "5"},
                token=form_token(nav)).status_code == 403  # fmt: skip


def test_a_session_of_one_venue_reaches_no_order_of_another(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    other = browser(client, "198.51.100.50")
    b = console_shop(other, queue, database, settings, clock, email="bob@example.org",
                     name="Het Muziekgebouw", admin_name="Bob Beheerder")  # fmt: skip
    b_order = paid_order(other, database, clock, b.event["id"], b.seat_tier,
                         email="b-buyer@example.org")  # fmt: skip
    b_ticket = tickets(other, b, b_order["id"])[0]
    console_shop(client, queue, database, settings, clock)
    ids = {"order_id": b_order["id"], "ticket_id": b_ticket["id"]}
    markers = ("Het Muziekgebouw", "b-buyer@example.org", b_ticket["code"], "Bob Beheerder")
    before = ok(other.get(f"/v1/orders/{b_order['id']}", headers=b.venue.headers))
    routes = [r for r in client.app.routes  # type: ignore[attr-defined]
              if getattr(r, "path", "").startswith(("/console/orders", "/console/check-in",
                                                    "/console/audit"))]  # fmt: skip
    assert len(routes) >= 9
    token = csrf(client, "/console/orders")
    for route in routes:
        path = route.path
        for name, value in ids.items():
            path = path.replace("{" + name + "}", value)
        for method in sorted(route.methods - {"HEAD"}):
            if method == "GET":
                answer = client.get(path, params={"order": b_order["id"], "event": b.event["id"]},
                                    follow_redirects=False)  # fmt: skip
            else:
                data = {"code": b_ticket["code"], "event_id": b.event["id"], "amount": "5",
                        "amount_minor": "500", "idempotency_key": "k" * 32, "reason": "x"}  # fmt: skip
                answer = post(client, path, data, token=token)
            assert answer.status_code in (200, 303, 404), (method, path, answer.status_code)
            if answer.status_code == 303:
                assert b_order["id"] not in answer.headers["location"], (method, path)
            for marker in markers:
                assert marker not in answer.text, (method, path, marker)
    after = ok(other.get(f"/v1/orders/{b_order['id']}", headers=b.venue.headers))
    assert after == before
    with database.unit_of_work() as uow:
        assert uow.session.get(Admission, b_ticket["id"]) is None


def test_the_order_pages_speak_dutch(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = console_shop(client, queue, database, settings, clock)
    order = paid_order(client, database, clock, shop.event["id"], shop.seat_tier)
    client.cookies.set("lang", "nl")
    detail = client.get(f"/console/orders/{order['id']}")
    assert "Terugbetalen…" in detail.text and "Betaald" in detail.text
    confirm = post(client, f"/console/orders/{order['id']}/refund/confirm", {"amount": "5,00"},
                   token=form_token(detail.text))  # fmt: skip
    assert "€ 5,00 van € 50,00 terugbetalen aan buyer@example.org?" in confirm.text
    assert ">Terugbetalen</button>" in confirm.text
    door = client.get("/console/check-in")
    assert ">Toelaten</button>" in door.text


def test_a_confirmation_submitted_twice_at_once_refunds_once(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = console_shop(client, queue, database, settings, clock)
    order = paid_order(client, database, clock, shop.event["id"], shop.seat_tier)
    _, fields = _refund(client, order["id"], "7,50")
    start, answers = threading.Barrier(2), []

    def submit() -> None:
        start.wait()
        answers.append(client.post(f"/console/orders/{order['id']}/refunds", data=fields,
                                   follow_redirects=False))  # fmt: skip

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [303, 303]
    staff = ok(client.get(f"/v1/orders/{order['id']}", headers=shop.venue.headers))
    assert [r["amount"] for r in staff["refunds"]] == [750]


def test_the_order_list_pages_through_every_order_once_keeping_its_filters(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    redis_client: redis.Redis,
) -> None:  # fmt: skip
    shop = console_shop(client, queue, database, settings, clock)
    placed: set[str] = set()
    for i in range(53):
        if i % 25 == 0:  # one test client's address: its per-minute order limit starts over
            for key in redis_client.scan_iter("streamsvc:ratelimit:orders:ip:*"):
                redis_client.delete(key)
        placed.add(
            buy(client, shop.event["id"], shop.stream_tier, email=f"fan{i}@example.org")["id"]
        )
    elsewhere = paid_order(client, database, clock, shop.event["id"], shop.seat_tier)

    seen: list[str] = []
    url: str | None = f"/console/orders?event={shop.event['id']}&status=pending"
    pages = 0
    while url is not None:
        page = client.get(url)
        assert page.status_code == 200
        seen += [i for i in re.findall(r'href="/console/orders/(ord_\w+)"', page.text)]
        found = re.search(r'<a href="([^"]+)" rel="next">', page.text)
        url = found.group(1).replace("&amp;", "&") if found else None
        if url is not None:  # the next page keeps the filters, and only them
            assert f"event={shop.event['id']}" in url and "status=pending" in url
        pages += 1
    assert pages == 2  # 50 a page
    assert len(seen) == len(set(seen)) == 53 and set(seen) == placed
    assert elsewhere["id"] not in seen  # paid: filtered out on every page
