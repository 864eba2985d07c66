"""The buyer's receipt (HTML and PDF) from the order page, for a hybrid order of two
bundle tickets (9 % admission, 21 % stream) and a stream ticket, paid at localstripe:
the VAT per rate worked out by hand, the venue's VAT number (set in the console's venue
settings), the refunds made since; for the holder of the order cookie only."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from pypdf import PdfReader
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.audit.models import AuditEntry
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from tests.factories import VenueHandle, bearer, make_event, make_tier, ok, put_split_rule
from tests.orders import scenarios as s
from tests.staff.helpers import admin_signed_in, csrf, member_signed_in, post
from tests.stripe_helpers import pay_with_card

pytestmark = pytest.mark.stripe
BUNDLE = [{"label": "Admission", "amount": 1200, "vat_rate_bps": 900},
          {"label": "Stream", "amount": 1800, "vat_rate_bps": 2100}]  # fmt: skip
# 2 bundle tickets (6000) and a stream ticket (1950), VAT within each part by hand:
#   admission 2 x 1200 = 2400 at 9 %:  2400 * 900 / 10900 = 198.17 -> 198, net 2202
#   stream    2 x 1800 = 3600 at 21 %: 3600 * 2100 / 12100 = 624.79 -> 625
#   stream ticket 1950 at 21 %:        1950 * 2100 / 12100 = 338.43 -> 338
#   21 %: gross 3600 + 1950 = 5550, VAT 625 + 338 = 963, net 4587
RATES = {"9%": ("EUR 22.02", "EUR 1.98", "EUR 24.00"),
         "21%": ("EUR 45.87", "EUR 9.63", "EUR 55.50")}  # fmt: skip


def _plain(words: str) -> str:
    return re.sub(r"[\s\u00a0\u202f]+", " ", words)


def _admin_venue(client: TestClient, queue: Any, database: Database, settings: Settings,
                 clock: FixedClock) -> VenueHandle:  # fmt: skip
    admin = admin_signed_in(client, queue, database, settings, clock.now(), name="Muziekgebouw")
    return VenueHandle(admin.venue_id, admin.key, bearer(admin.key))


def _hybrid(client: TestClient, venue: VenueHandle, clock: FixedClock) -> tuple[str, str, str]:
    event = make_event(client, venue, clock.now(), title="Hybride avond")
    stream = make_tier(client, venue, event["id"], name="Stream", price_amount=1950)
    bundle = make_tier(client, venue, event["id"], name="Hall + stream", price_amount=3000,
                       components=BUNDLE, capacity=50, access={"quality": "hd", "in_venue": True})  # fmt: skip
    put_split_rule(client, venue, event["id"])
    ok(client.post(f"/v1/events/{event['id']}/publish", headers=venue.headers))
    return event["id"], bundle["id"], stream["id"]


def _order(client: TestClient, event_id: str, items: list[tuple[str, int]], email: str) -> Any:
    body = {"email": email, "country": "NL",
            "items": [{"tier_id": tier, "quantity": quantity} for tier, quantity in items]}  # fmt: skip
    return ok(client.post(f"/v1/public/events/{event_id}/orders", json=body), 201)


def _paid(client: TestClient, database: Database, clock: FixedClock, localstripe: str,
          order: dict[str, Any]) -> None:  # fmt: skip
    pay_with_card(localstripe, order["payment"]["payment_intent_id"])
    s.deliver(client, s.succeeded(order))
    s.drain(database, clock)


def _set_vat_number(client: TestClient, typed: str) -> Any:
    return post(client, "/console/settings/vat-number", {"vat_number": typed},
                token=csrf(client, "/console/settings"))  # fmt: skip


def test_the_receipt_shows_vat_per_rate_the_vat_number_and_the_refunds(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    localstripe: str,
) -> None:  # fmt: skip
    venue = _admin_venue(client, queue, database, settings, clock)
    assert _set_vat_number(client, "nl 8588.61.234.B01").status_code == 303
    event_id, bundle, stream = _hybrid(client, venue, clock)
    order = _order(client, event_id, [(bundle, 2), (stream, 1)], "jan@example.org")
    _paid(client, database, clock, localstripe, order)
    client.cookies.set(f"order_{order['id']}", order["order_token"])

    page = client.get(f"/orders/{order['id']}", headers={"Accept": "text/html"})
    assert "(9% + 21%)" in page.text  # the bundle line's VAT, in the order page's receipt
    assert f'href="/orders/{order["id"]}/receipt.pdf"' in page.text and "Receipt (PDF)" in page.text

    html = client.get(f"/orders/{order['id']}/receipt")
    assert html.status_code == 200, html.text
    assert "'sha256-" in html.headers["content-security-policy"]
    text = _plain(html.text)
    assert 'id="receipt-vat-number">NL858861234B01<' in text
    assert f'id="receipt-order">{order["id"]}<' in text
    assert 'id="receipt-total">EUR 79.50<' in text and 'id="receipt-vat">EUR 11.61<' in text
    for rate, (net, vat, gross) in RATES.items():
        row = re.search(rf'<tr id="rate-{rate[:-1]}00">(.*?)</tr>', text, re.S)
        assert row and [net, vat, gross] == re.findall(
            r'<td align="right">([^<]+)</td>', row.group(1)
        )
    assert "Admission" in text and "Stream" in text

    pdf = client.get(f"/orders/{order['id']}/receipt.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    words = _plain(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages))
    assert "NL858861234B01" in words and order["id"] in words and "Muziekgebouw" in words
    for rate, (net, vat, gross) in RATES.items():
        assert f"{rate} {net} {vat} {gross}" in words

    # The stream ticket refunded at Stripe: the receipt shows it, and what stays paid.
    s.deliver(client, s.charge_refunded(order, [("re_receipt1", 1950)]))
    s.drain(database, clock)
    refunded = _plain(client.get(f"/orders/{order['id']}/receipt").text)
    assert "Refund of" in refunded and "\u2212EUR 19.50" in refunded
    assert 'id="receipt-net-paid"><strong>EUR 60.00<' in refunded


def test_the_receipt_is_for_the_holder_of_the_order_cookie_only(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    localstripe: str,
) -> None:  # fmt: skip
    venue = _admin_venue(client, queue, database, settings, clock)
    event_id, bundle, _ = _hybrid(client, venue, clock)
    mine = _order(client, event_id, [(bundle, 1)], "mine@example.org")
    theirs = _order(client, event_id, [(bundle, 1)], "theirs@example.org")
    _paid(client, database, clock, localstripe, mine)
    _paid(client, database, clock, localstripe, theirs)
    for path in ("receipt", "receipt.pdf"):
        assert client.get(f"/orders/{mine['id']}/{path}").status_code == 404  # no cookie
    # Another order's token under this order's cookie name opens nothing.
    client.cookies.set(f"order_{mine['id']}", theirs["order_token"])
    for path in ("receipt", "receipt.pdf"):
        assert client.get(f"/orders/{mine['id']}/{path}").status_code == 404
    client.cookies.set(f"order_{mine['id']}", mine["order_token"])
    assert client.get(f"/orders/{mine['id']}/receipt").status_code == 200
    # No VAT number set: the receipt states none.
    assert "receipt-vat-number" not in client.get(f"/orders/{mine['id']}/receipt").text
    # An order not paid has no receipt, and its page no link to one.
    pending = _order(client, event_id, [(bundle, 1)], "later@example.org")
    client.cookies.set(f"order_{pending['id']}", pending["order_token"])
    assert client.get(f"/orders/{pending['id']}/receipt").status_code == 404
    page = client.get(f"/orders/{pending['id']}", headers={"Accept": "text/html"})
    assert "receipt.pdf" not in page.text


def test_the_vat_number_is_set_by_an_admin_checked_and_audited(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    _admin_venue(client, queue, database, settings, clock)
    wrong = _set_vat_number(client, "123")
    assert wrong.status_code == 422
    assert 'id="error-vat_number" class="field-error" role="alert">Enter the VAT number' in (
        wrong.text)  # fmt: skip
    assert 'aria-invalid="true"' in wrong.text and 'value="123"' in wrong.text
    assert _set_vat_number(client, "BE 0123.456.789").status_code == 303
    shown = client.get("/console/settings?done=vat")
    assert 'value="BE0123456789"' in shown.text and 'id="settings-done"' in shown.text
    assert _set_vat_number(client, "").status_code == 303  # removed
    with database.unit_of_work() as uow:
        changes = [
            entry.changes["vat_number"]
            for entry in uow.session.exec(
                select(AuditEntry).where(AuditEntry.action == "venue.vat_number_changed")
            )
        ]
    assert sorted(changes, key=lambda c: c["before"] or "") == [
        {"before": None, "after": "BE0123456789"},
        {"before": "BE0123456789", "after": None},
    ]
    finance = member_signed_in(client, queue, database, settings, clock.now(),
                               "fred@example.org", "finance")  # fmt: skip
    read_only = finance.get("/console/settings")
    assert read_only.status_code == 200 and 'name="vat_number"' not in read_only.text
    refused = post(finance, "/console/settings/vat-number", {"vat_number": "NL1"},
                   token=csrf(finance, "/console/settings"))  # fmt: skip
    assert refused.status_code == 403
