"""/console/passes: an admin creates a pass, chooses its events, publishes and edits it;
finance reads it (holders' e-mails included); door staff see nothing. Every change is
in the audit log; what sold passes fixed stays fixed."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import col, select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.audit.models import AuditEntry
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.passes import buying
from streamsvc.passes.models import PassProduct
from streamsvc.payments.factory import gateway_from_settings
from tests.console.helpers import console_shop, form_token
from tests.orders import scenarios as s
from tests.staff.helpers import member_signed_in, post

HTML = {"Accept": "text/html"}
PASS_FORM = {
    "name": "Opera season 2027", "description": "Every opera of the season.", "price": "90,00",
    "vat_rate": "9", "currency": "EUR", "capacity": "50", "max_claims": "", "sales_start": "",
    "sales_end": "", "weighting": "equal", "late_refund": "unplayed",
}  # fmt: skip


def _submit(client: TestClient, page: str, path: str, data: dict[str, str]) -> Any:
    return post(client, path, data, token=form_token(client.get(page, headers=HTML).text))


def _buy(database: Database, settings: Settings, clock: FixedClock, client: TestClient,
         pass_id: str, email: str) -> None:  # fmt: skip
    bought = buying.buy_pass(
        database, gateway_from_settings(settings), settings, clock, pass_id=pass_id,
        email=email, country="NL", locale="en",
    )  # fmt: skip
    order = {"id": bought.order_id, "total_amount": bought.total_amount,
             "currency": bought.currency,
             "payment": {"payment_intent_id": bought.payment_intent_id}}  # fmt: skip
    s.deliver(client, s.succeeded(order))
    s.drain(database, clock)


def test_an_admin_sets_up_a_pass_and_finance_reads_its_holders(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = console_shop(client, queue, database, settings, clock, title="Carmen")
    listing = client.get("/console/passes", headers=HTML)
    assert listing.status_code == 200 and 'href="/console/passes"' in listing.text
    assert "The venue sells no season pass yet." in listing.text

    refused = _submit(client, "/console/passes/new", "/console/passes/new",
                      {**PASS_FORM, "name": "", "price": "ninety"})  # fmt: skip
    assert refused.status_code == 422
    assert re.search(r'id="error-price_amount"[^>]*>enter an amount such as 15,00<', refused.text)
    created = _submit(client, "/console/passes/new", "/console/passes/new", PASS_FORM)
    assert created.status_code == 303, created.text
    found = re.fullmatch(r"/console/passes/(pas_\w+)\?done=created", created.headers["location"])
    assert found is not None
    pass_id = found.group(1)
    page = f"/console/passes/{pass_id}"
    detail = client.get(page, headers=HTML)
    assert "The pass covers no event yet." in detail.text and "€90.00" in detail.text

    early = _submit(client, page, f"{page}/publish", {"published": "1"})
    assert early.status_code == 409
    assert "Add at least one event before publishing the pass." in early.text
    added = _submit(client, page, f"{page}/events", {"tier_id": shop.seat_tier})
    assert added.status_code == 303
    detail = client.get(page, headers=HTML)
    assert re.search(r"<td>Carmen</td>", detail.text) and "Stalls" in detail.text
    other = _submit(client, page, f"{page}/events", {"tier_id": "tie_of_nobody"})
    assert other.status_code == 422 and "a tier of the event" in other.text
    assert _submit(client, page, f"{page}/publish", {"published": "1"}).status_code == 303
    # The catalogue learns of it at once (the console announces its changes).
    assert f'href="/season-passes/{pass_id}"' in client.get("/", headers=HTML).text

    _buy(database, settings, clock, client, pass_id, "holder@example.org")
    detail = client.get(page, headers=HTML)
    assert re.search(r'<dd id="pass-sold">1</dd>', detail.text)
    assert re.search(r'<dd id="pass-remaining">49</dd>', detail.text)
    assert "holder@example.org" in detail.text and "none yet" in detail.text
    assert re.search(r'<td class="sold">1</td>', client.get("/console/passes").text)

    # Sold passes fix the price, and keep their events.
    dearer = _submit(client, page, page, {**PASS_FORM, "price": "95"})
    assert dearer.status_code == 409
    assert re.search(r'id="error-price_amount"[^>]*>fixed once passes are sold<', dearer.text)
    renamed = _submit(client, page, page, {**PASS_FORM, "name": "Opera season 2027/28"})
    assert renamed.status_code == 303
    kept = _submit(client, page, f"{page}/events/{shop.event['id']}/remove", {})
    assert kept.status_code == 409 and "stay in the pass" in kept.text
    with database.unit_of_work() as uow:
        product = uow.session.get(PassProduct, pass_id)
        assert product is not None and product.name == "Opera season 2027/28"
        assert product.price_amount == 9000
        actions = uow.session.exec(
            select(AuditEntry.action).where(AuditEntry.object_id == pass_id)
            .order_by(col(AuditEntry.created_at), col(AuditEntry.id))
        ).all()  # fmt: skip
    assert set(actions) == {"pass.created", "pass.event_added", "pass.published", "pass.updated"}

    finance = member_signed_in(client, queue, database, settings, clock.now(),
                               "fred@example.org", "finance")  # fmt: skip
    read = finance.get(page, headers=HTML)
    assert read.status_code == 200 and "holder@example.org" in read.text
    assert "Edit the pass" not in read.text and 'id="publish"' not in read.text
    assert "New season pass" not in finance.get("/console/passes", headers=HTML).text
    token = form_token(read.text)
    assert post(finance, page, PASS_FORM, token=token).status_code == 403
    assert post(finance, "/console/passes/new", PASS_FORM, token=token).status_code == 403
    door = member_signed_in(client, queue, database, settings, clock.now(),
                            "dora@example.org", "door", address="198.51.100.9")  # fmt: skip
    assert door.get("/console/passes").status_code == 403
    assert door.get(page).status_code == 403
    assert 'href="/console/passes"' not in door.get("/console/check-in").text


def test_the_holders_go_page_by_page(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    from streamsvc.passes import console_service

    shop = console_shop(client, queue, database, settings, clock)
    created = _submit(client, "/console/passes/new", "/console/passes/new",
                      {**PASS_FORM, "capacity": ""})  # fmt: skip
    pass_id = created.headers["location"].split("/")[-1].split("?")[0]
    page = f"/console/passes/{pass_id}"
    _submit(client, page, f"{page}/events", {"tier_id": shop.stream_tier})
    _submit(client, page, f"{page}/publish", {"published": "1"})
    count = console_service.HOLDERS_PER_PAGE + 2
    for i in range(count):
        _buy(database, settings, clock, client, pass_id, f"fan{i:03}@example.org")
    first = client.get(page, headers=HTML)
    emails = set(re.findall(r"fan\d{3}@example\.org", first.text))
    assert len(emails) == console_service.HOLDERS_PER_PAGE
    next_link = re.search(r'<a href="(/console/passes/[^"]+)">Next holders</a>', first.text)
    assert next_link is not None
    second = client.get(next_link.group(1).replace("&amp;", "&"), headers=HTML)
    rest = set(re.findall(r"fan\d{3}@example\.org", second.text))
    assert len(rest) == 2 and not rest & emails
