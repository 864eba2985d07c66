"""The Sales section of a recording's console page: totals over its paid orders and its
orders newest first (masked addresses, the venue's time, the access and a rental's
window), read by admin and finance; door staff get 403, another venue's staff 404."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.recordings import window
from tests.conftest import RecordingQueue
from tests.factories import VenueHandle, bearer, ok
from tests.recordings import test_buying
from tests.recordings.helpers import published_recording
from tests.recordings.test_buying import _accesses, _buy, _order_id, _pay
from tests.staff.helpers import admin_signed_in, browser, member_signed_in

settings = test_buying.settings  # its fixture: paid offers are sold


def _cell_texts(page: str, order_id: str) -> list[str]:
    row = re.search(rf'<tr id="sale-{order_id}">(.*?)</tr>', page, re.S)
    assert row, page[-6000:]
    return [
        re.sub(r"\s+", " ", cell).strip()
        for cell in re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    ]


def test_the_sales_of_a_recording_with_exact_totals_and_who_may_read_them(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock,
    queue: RecordingQueue,
) -> None:  # fmt: skip
    client.headers["Accept-Language"] = "en"
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    venue = VenueHandle(admin.venue_id, admin.key, bearer(admin.key))
    recording = published_recording(client, venue)
    path = f"/console/recordings/{recording['id']}"
    empty = client.get(path)
    assert empty.status_code == 200 and "No orders yet." in empty.text

    rental = _order_id(_buy(client, recording["id"], "rental", email="jane@example.org"),
                       "checkout")  # fmt: skip
    _pay(client, database, clock, rental)
    clock.advance(minutes=5)
    purchase = _order_id(_buy(client, recording["id"], "purchase", email="bob@example.org"),
                         "checkout")  # fmt: skip
    _pay(client, database, clock, purchase)
    clock.advance(minutes=5)
    refunded = _order_id(_buy(client, recording["id"], "rental", email="carl@example.org"),
                         "checkout")  # fmt: skip
    _pay(client, database, clock, refunded)
    answer = client.post(f"/v1/orders/{refunded}/refunds", json={"reason": "asked"},
                         headers=venue.headers)  # fmt: skip
    assert ok(answer, 202)["amount"] == 499
    clock.advance(minutes=5)
    unpaid = _order_id(_buy(client, recording["id"], "purchase", email="dana@example.org"),
                       "checkout")  # fmt: skip
    # Jane starts her rental at 12:15 UTC, 13:15 in Amsterdam: it plays for 48 hours.
    [jane] = _accesses(database, rental)
    with database.unit_of_work() as uow:
        window.redeem(uow.session, jane.code, clock.now())

    page = client.get(path)
    assert page.status_code == 200
    text = page.text
    # Three orders paid: 4.99 + 12.99 + 4.99 = 22.97, of which 4.99 refunded; the
    # unpaid one counts nowhere.
    assert re.search(r'id="sales-paid-orders">3<', text)
    assert re.search(r'id="sales-gross">€22\.97<', text)
    assert re.search(r'id="sales-refunded">€4\.99<', text)
    assert re.search(r'id="sales-kind-rental">2 orders, €9\.98<', text)
    assert re.search(r'id="sales-kind-purchase">1 order, €12\.99<', text)
    assert 'id="sales-kind-free"' not in text

    # Newest first; times in Amsterdam (UTC+1 in December); addresses masked.
    order_ids = re.findall(r'<tr id="sale-(ord_\w+)">', text)
    assert order_ids == [unpaid, refunded, purchase, rental]
    assert _cell_texts(text, rental) == [
        "12/1/26, 1:00 PM", "j***@example.org", "Rental", "€4.99", "Paid",
        "Valid · started 12/1/26, 1:15 PM, plays until 12/3/26, 1:15 PM",
    ]  # fmt: skip
    assert _cell_texts(text, purchase) == [
        "12/1/26, 1:05 PM", "b***@example.org", "Purchase", "€12.99", "Paid", "Valid"]  # fmt: skip
    assert _cell_texts(text, refunded) == [
        "12/1/26, 1:10 PM", "c***@example.org", "Rental", "€4.99", "Refunded", "Revoked"]  # fmt: skip
    assert _cell_texts(text, unpaid) == [
        "12/1/26, 1:15 PM", "d***@example.org", "Purchase", "€12.99", "Pending", "—"]  # fmt: skip
    assert "jane@example.org" not in text and "carl@example.org" not in text

    # A rental not started yet says by when it must start (paid at 12:15 UTC + 30 days).
    later = _order_id(_buy(client, recording["id"], "rental", email="eve@example.org"),
                      "checkout")  # fmt: skip
    _pay(client, database, clock, later)
    assert _cell_texts(client.get(path).text, later)[-1] == (
        "Valid · not started (start by 12/31/26, 1:15 PM)")  # fmt: skip

    finance = member_signed_in(client, queue, database, settings, clock.now(),
                               "fred@example.org", "finance")  # fmt: skip
    read = finance.get(path)
    assert read.status_code == 200 and re.search(r'id="sales-gross">€27\.96<', read.text)
    door = member_signed_in(client, queue, database, settings, clock.now(),
                            "dora@example.org", "door", address="198.51.100.8")  # fmt: skip
    assert door.get(path, follow_redirects=False).status_code == 403

    # Another venue's admin: the recording is unknown there.
    other = browser(client, "198.51.100.9")
    admin_signed_in(other, queue, database, settings, clock.now(), email="olga@example.org",
                    name="Concertgebouw")  # fmt: skip
    assert other.get(path, follow_redirects=False).status_code == 404
