"""/console/audit: the venue's log with names; finance reads the money actions only;
filters by object, actor and period; pages follow a cursor."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc import audit
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from tests.console.helpers import console_shop, paid_order, tickets
from tests.factories import ok
from tests.staff.helpers import csrf, member_signed_in, post

pytestmark = pytest.mark.stripe


def _rows(page: Any) -> list[str]:
    body = re.search(r'<table id="audit">.*?<tbody>(.*?)</tbody>', page.text, re.S)
    assert body, page.text[:2000]
    rows = re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


def test_the_audit_page_names_who_did_what_and_finance_reads_money_only(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = console_shop(client, queue, database, settings, clock)
    order = paid_order(client, database, clock, shop.event["id"], shop.seat_tier)
    page = client.get(f"/console/orders/{order['id']}")
    confirm = post(client, f"/console/orders/{order['id']}/refund/confirm", {"amount": "5"},
                   token=csrf(client, f"/console/orders/{order['id']}"))  # fmt: skip
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', confirm.text))
    assert client.post(f"/console/orders/{order['id']}/refunds", data=fields,
                       follow_redirects=False).status_code == 303  # fmt: skip
    ticket = tickets(client, shop, order["id"])[0]
    assert post(client, f"/console/orders/{order['id']}/tickets/{ticket['id']}/revoke", {},
                token=csrf(client, f"/console/orders/{order['id']}")).status_code == 303  # fmt: skip
    assert page.status_code == 200

    rows = _rows(client.get("/console/audit"))
    refunds = [row for row in rows if "Order refunded" in row]
    assert len(refunds) == 1 and "Ada Admin" in refunds[0] and "€5.00" in refunds[0]
    assert any("Ticket revoked" in row and "Ada Admin" in row for row in rows)

    only_order = _rows(client.get("/console/audit", params={"object_type": "order",
                                                            "object_id": order["id"]}))  # fmt: skip
    assert only_order and all(order["id"] in row for row in only_order)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert "Nothing was recorded" in _rows(client.get("/console/audit",
                                                       params={"from": tomorrow}))[0]  # fmt: skip
    assert client.get("/console/audit", params={"from": "yesterday"}).status_code == 422

    finance = member_signed_in(client, queue, database, settings, clock.now(),
                               "fred@example.org", "finance")  # fmt: skip
    seen = _rows(finance.get("/console/audit"))
    assert any("Order refunded" in row and "Ada Admin" in row for row in seen)
    assert not any("Ticket revoked" in row for row in seen)
    actor = re.search(
        r'<option value="(per_\w+)"[^>]*>Ada Admin<', finance.get("/console/audit").text
    )
    assert actor
    by_ada = _rows(finance.get("/console/audit", params={"actor": actor.group(1)}))
    assert by_ada and all("Ada Admin" in row for row in by_ada)
    door = member_signed_in(client, queue, database, settings, clock.now(),
                            "dora@example.org", "door", address="198.51.100.9")  # fmt: skip
    assert door.get("/console/audit").status_code == 403
    ok(client.get("/v1/audit", headers=shop.venue.headers))


def test_the_audit_page_goes_on_page_by_page(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = console_shop(client, queue, database, settings, clock)
    with database.unit_of_work() as uow:
        for n in range(55):
            audit.record(uow.session, venue_id=shop.venue.id, action="ticket.revoked",
                         object_type="ticket", object_id=f"tkt_{n:03d}")  # fmt: skip
    first = client.get("/console/audit", params={"object_type": "ticket"})
    assert len(_rows(first)) == 50
    link = re.search(r'<a href="(/console/audit\?[^"]+)" rel="next">', first.text)
    assert link
    second = client.get(link.group(1).replace("&amp;", "&"))
    rows = _rows(second)
    assert len(rows) == 5 and all("ticket tkt_" in row for row in rows)
    assert 'rel="next"' not in second.text
