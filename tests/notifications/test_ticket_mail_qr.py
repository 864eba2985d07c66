"""A seat ticket's mail carries its QR code for the door: an image part of the HTML,
named by Content-ID (no data: URI, no URL carrying the code), drawn by the same
generator as the order page; the text part gives the code to type."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import seats
from streamsvc.orders.fulfilment import mail_tickets
from tests.console.helpers import console_shop, paid_order, tickets
from tests.mailbox import Mailbox

pytestmark = pytest.mark.stripe


def _mail(database: Database, settings: Settings, mailbox: Mailbox, clock: FixedClock,
          order_id: str, to: str) -> EmailMessage:  # fmt: skip
    smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": mailbox.port})
    before = len(mailbox.received)
    assert mail_tickets(database, smtp, order_id, clock.now()) is True
    [received] = [m for m in mailbox.received[before:] if m.rcpt_tos == [to]]
    return received.message


def test_a_seat_ticket_mail_carries_its_qr_code_as_a_related_image(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    mailbox: Mailbox,
) -> None:  # fmt: skip
    shop = console_shop(client, queue, database, settings, clock)
    seat = paid_order(client, database, clock, shop.event["id"], shop.seat_tier,
                      email="seat@example.org")  # fmt: skip
    codes = [t["code"] for t in tickets(client, shop, seat["id"])]
    message = _mail(database, settings, mailbox, clock, seat["id"], "seat@example.org")

    html = message.get_body(("html",))
    assert html is not None
    body = html.get_content()
    assert "data:" not in body
    cids = re.findall(r'<img src="cid:([^"]+)"', body)
    assert len(cids) == len(codes) == 2
    images = {
        str(part["Content-ID"]).strip("<>"): part.get_content()
        for part in message.walk()
        if part.get_content_type() == "image/png"
    }
    # Each image is the generator's QR code of its own ticket's code, in ticket order.
    assert [images[cid] for cid in cids] == [seats.qr_png(code) for code in codes]
    related = [p for p in message.walk() if p.get_content_type() == "multipart/related"]
    assert len(related) == 1  # the HTML and its images travel together
    text = message.get_body(("plain",))
    assert text is not None
    for code in codes:
        assert f"give this code, at the door: {code}" in text.get_content()


def test_a_stream_ticket_mail_has_no_qr_code(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock,
    mailbox: Mailbox,
) -> None:  # fmt: skip
    shop = console_shop(client, queue, database, settings, clock)
    stream = paid_order(client, database, clock, shop.event["id"], shop.stream_tier,
                        email="home@example.org")  # fmt: skip
    message = _mail(database, settings, mailbox, clock, stream["id"], "home@example.org")
    assert not [p for p in message.walk() if p.get_content_maintype() == "image"]
    html = message.get_body(("html",))
    assert html is not None and "cid:" not in html.get_content()
    text = message.get_body(("plain",))
    assert text is not None and "at the door" not in text.get_content()
