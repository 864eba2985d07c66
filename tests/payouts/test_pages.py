"""The payout pages over HTTP: details entered and confirmed by two members, a run,
approval by the other member, the SEPA file, mark paid, a failed line, the advice."""

from __future__ import annotations

import io
import re
from typing import Any

from pypdf import PdfReader
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from tests.factories import VenueHandle, bearer
from tests.payouts.money import IBANS, lines, owed, sold_world
from tests.payouts.test_sepa_and_advice import validate
from tests.staff.helpers import admin_signed_in, csrf, log_in, member_signed_in, post

PAYOUTS = "/console/finance/payouts"


def _party(party: dict[str, Any]) -> str:
    return f"/console/finance/parties/{party['type']}/{party['id']}"


def _post(client: TestClient, path: str, data: dict[str, str]) -> Any:
    return post(client, path, data, token=csrf(client, PAYOUTS))


def test_finance_pays_the_month_from_the_console(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    venue = VenueHandle(admin.venue_id, admin.key, bearer(admin.key))
    world = sold_world(client, database, clock, venue=venue)
    clock.advance(days=40)
    assert log_in(client, admin.email).status_code == 303
    fred = member_signed_in(client, queue, database, settings, clock.now(), "fred@example.org",
                            "finance")  # fmt: skip

    page = client.get(PAYOUTS)
    assert page.status_code == 200 and "no payout details" in page.text
    singer = world.parties[1]
    typo = _post(
        client, _party(singer), {"holder": "Anna", "iban": "NL91ABNA0417164301", "bic": ""}
    )
    assert typo.status_code == 422
    assert re.search(r'id="error-iban"[^>]*>not a valid IBAN<', typo.text), typo.text
    for n, party in enumerate(world.parties):
        saved = _post(client, _party(party), {"holder": f"Holder {n}", "iban": IBANS[n], "bic": ""})
        assert saved.status_code == 303, saved.text
    shown = client.get(_party(singer)).text
    assert "NL** **** **** **45 67" in shown and IBANS[1] not in shown
    own = _post(client, f"{_party(singer)}/confirm", {})
    assert own.status_code == 403 and "Another finance member" in own.text
    for party in world.parties:
        assert _post(fred, f"{_party(party)}/confirm", {}).status_code == 303

    before = owed(database, world.venue.id)
    ran = _post(client, PAYOUTS, {"period": "2026-12"})
    assert ran.status_code == 303, ran.text
    batch_page = ran.headers["location"].split("?")[0]
    batch_id = batch_page.rsplit("/", 1)[1]
    refused = _post(client, f"{batch_page}/approve", {})
    assert refused.status_code == 403 and "Another finance or admin member" in refused.text
    assert fred.get(f"{batch_page}/sepa.xml").status_code == 409
    assert _post(fred, f"{batch_page}/approve", {}).status_code == 303
    sepa = fred.get(f"{batch_page}/sepa.xml")
    assert sepa.status_code == 200 and "attachment" in sepa.headers["content-disposition"]
    validate(sepa.content)
    assert b">%d.%02d<" % divmod(sum(before.values()), 100) in sepa.content  # the control sum

    paid = _post(client, f"{batch_page}/paid", {"executed_on": clock.now().date().isoformat()})
    assert paid.status_code == 303
    assert 'id="batch-status">Paid<' in client.get(batch_page).text
    line = lines(database, batch_id)[singer["id"]]
    pdf = client.get(f"{batch_page}/lines/{line.id}/advice.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert f"{line.amount // 100}.{line.amount % 100:02d}" in text  # English page: en amounts
    failed = _post(fred, f"{batch_page}/lines/{line.id}/failed", {"reason": "account closed"})
    assert failed.status_code == 303
    assert owed(database, world.venue.id)[("performer", singer["id"])] == line.amount
    assert "Failed: payable again" in fred.get(batch_page).text


def test_door_staff_and_signed_out_visitors_see_no_payouts(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin_signed_in(client, queue, database, settings, clock.now())
    door = member_signed_in(client, queue, database, settings, clock.now(), "dora@example.org",
                            "door")  # fmt: skip
    assert door.get(PAYOUTS).status_code == 403
    assert door.get("/console/finance/parties").status_code == 403
    client.cookies.clear()
    assert client.get(PAYOUTS, follow_redirects=False).status_code == 303
