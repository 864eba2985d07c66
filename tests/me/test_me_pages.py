"""/me: a performer sees their own statements (totals equal to the ledger), payout
advices and payout details, at every venue they perform for, and nothing of anyone
else; correcting payout details holds the next payment until finance confirms."""

from __future__ import annotations

import io
import re
from typing import Any

import pypdf
from sqlmodel import select
from starlette.routing import Route
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.audit.models import AuditEntry
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.payouts import approval, details, runs
from streamsvc.payouts.models import PayoutLine
from streamsvc.payouts.sepa import SepaRail
from tests.me.helpers import (
    Performer,
    body_of,
    csrf,
    paid_world,
    payable,
    post,
    send_mails,
    signed_in,
)
from tests.staff.helpers import browser

IBAN = "NL91ABNA0417164300"
OTHER_IBAN = "NL44RABO0123456789"
SIGNED_OUT = ("/me/sign-in", "/me/sign-out")


def _euros(cents: int) -> str:
    euros, rest = divmod(cents, 100)
    return f"EUR {euros:,}.{rest:02d}"


def _amounts(page: str) -> list[int]:
    return [int(value) for value in re.findall(r'data-amount="(-?\d+)"', page)]


def test_a_performer_sees_only_their_own_statements_equal_to_the_ledger(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    world, (anna, bea) = paid_world(client, database, clock)
    owed = payable(database, anna)
    assert owed > 0 and payable(database, bea) > 0
    signed_in(client, queue, database, settings, clock, anna.email)

    page = client.get("/me")
    assert page.status_code == 200
    assert sum(_amounts(page.text)) == owed and "2026-11" in page.text
    assert anna.name in page.text and world.parties[0]["name"] in page.text
    assert bea.name not in page.text and bea.id not in page.text

    statement = client.get(f"/me/performers/{anna.id}/statements/2026-11")
    assert statement.status_code == 200 and statement.headers["cache-control"].startswith(
        "no-store"
    )
    assert f"Statement for {anna.name}" in statement.text and _euros(owed) in statement.text
    assert bea.name not in statement.text
    # The same document finance prints for the performer, VAT per rate included.
    assert "<h2>VAT per rate</h2>" in statement.text
    pdf = client.get(f"/me/performers/{anna.id}/statements/2026-11.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    words = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert _euros(owed) in words and anna.name in words
    # A month without splits is an empty statement; a period that is not a month, none.
    assert "Nothing was split" in client.get(f"/me/performers/{anna.id}/statements/2026-10").text
    for period in ("2026-13", "26-11", "2026-1", "1999-12"):
        assert client.get(f"/me/performers/{anna.id}/statements/{period}").status_code == 404


def test_a_person_performing_for_two_venues_sees_both(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    first, (anna, _) = paid_world(client, database, clock)
    _, (anna_there, carl) = paid_world(
        client, database, clock, emails=("ANNA@example.org", "carl@example.org"),
        venue_name="Muziekgebouw",
    )  # fmt: skip
    signed_in(client, queue, database, settings, clock, anna.email)
    page = client.get("/me").text
    assert first.parties[0]["name"] in page and "Muziekgebouw" in page
    assert sum(_amounts(page)) == payable(database, anna) + payable(database, anna_there)
    assert carl.name not in page
    assert client.get(f"/me/performers/{anna_there.id}/statements/2026-11").status_code == 200


def _run(database: Database, settings: Settings, clock: FixedClock, venue_id: str) -> Any:
    with database.unit_of_work() as uow:
        batch = runs.run(uow.session, venue_id, "2027-01", rail=SepaRail(settings),
                         policy=runs.Policy(delay_days=14, threshold=1), created_by="per_runner",
                         now=clock.now())  # fmt: skip
        lines = uow.session.exec(select(PayoutLine).where(PayoutLine.batch_id == batch.id)).all()
        return batch.id, {line.party_id: (line.status, line.amount, line.reason) for line in lines}


def _pay(database: Database, clock: FixedClock, venue_id: str, batch_id: str) -> None:
    with database.unit_of_work() as uow:
        approval.approve(uow.session, venue_id, batch_id, approved_by="per_approver",
                         now=clock.now())  # fmt: skip
    with database.unit_of_work() as uow:
        runs.mark_paid(uow.session, venue_id, batch_id, executed_on=clock.now().date(),
                       paid_by="per_approver", now=clock.now())  # fmt: skip


def _staff_details(database: Database, clock: FixedClock, who: Performer) -> None:
    """Details entered by one finance member and confirmed by another."""
    with database.unit_of_work() as uow:
        details.change(uow.session, who.venue_id, "performer", who.id, holder=who.name,
                       iban=OTHER_IBAN, bic="", changed_by="per_one", now=clock.now())  # fmt: skip
    with database.unit_of_work() as uow:
        details.confirm(uow.session, who.venue_id, "performer", who.id,
                        confirmed_by="per_two", now=clock.now())  # fmt: skip


def test_corrected_details_hold_the_next_payment_until_finance_confirms_and_are_mailed(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    world, (anna, bea) = paid_world(client, database, clock)
    _staff_details(database, clock, bea)
    signed_in(client, queue, database, settings, clock, anna.email)
    form = f"/me/performers/{anna.id}/payout-details"
    assert "no payout details for you yet" in client.get(form).text

    wrong = post(client, form, {"holder": "Anna Netrebko", "iban": "NL91ABNA0417164301",
                                "bic": ""}, token=csrf(client, form))  # fmt: skip
    assert wrong.status_code == 422 and "not a valid IBAN" in wrong.text
    assert 'id="error-iban"' in wrong.text and 'aria-invalid="true"' in wrong.text
    saved = post(client, form, {"holder": "Anna Netrebko", "iban": "nl91 abna 0417 1643 00",
                                "bic": ""}, token=csrf(client, form))  # fmt: skip
    assert saved.status_code == 200 and 'id="details-saved"' in saved.text
    assert "NL** **** **** **43 00" in saved.text and IBAN not in saved.text
    overview = client.get("/me").text
    assert "NL** **** **** **43 00" in overview and "waits until" in overview

    # The venue's audit log has the change, by the performer, masked.
    with database.unit_of_work() as uow:
        [entry] = uow.session.exec(
            select(AuditEntry).where(
                AuditEntry.action == "payout_details.changed", AuditEntry.object_id == anna.id
            )
        ).all()
        assert (entry.venue_id, entry.actor_kind, entry.actor_id) == (
            anna.venue_id, "performer", anna.id)  # fmt: skip
        assert IBAN not in str(entry.changes)
    # The address on record is told (the notice names the account masked, never whole).
    [notice] = send_mails(queue, database, settings, clock.now())
    assert notice["To"] == anna.email
    assert "NL** **** **** **43 00" in body_of(notice) and IBAN not in body_of(notice)
    # The same details again change nothing and mail nobody.
    post(client, form, {"holder": "Anna Netrebko", "iban": IBAN, "bic": ""},
         token=csrf(client, form))  # fmt: skip
    assert send_mails(queue, database, settings, clock.now()) == []

    clock.advance(days=60)
    owed = payable(database, anna)
    first_batch, first = _run(database, settings, clock, world.venue.id)
    assert first[anna.id] == ("held", 0, details.UNCONFIRMED)
    assert first[bea.id][0] == "pending" and first[bea.id][1] > 0
    _pay(database, clock, world.venue.id, first_batch)
    assert payable(database, anna) == owed  # held: still owed

    with database.unit_of_work() as uow:
        details.confirm(uow.session, anna.venue_id, "performer", anna.id,
                        confirmed_by="per_finance", now=clock.now())  # fmt: skip
    clock.advance(days=1)
    _, second = _run(database, settings, clock, world.venue.id)
    assert second[anna.id] == ("pending", owed, "")
    assert bea.id not in second  # paid once


def test_a_session_reaches_nothing_of_another_performer_on_any_me_route(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    world, (anna, bea) = paid_world(client, database, clock)
    _staff_details(database, clock, bea)
    clock.advance(days=60)
    batch_id, _ = _run(database, settings, clock, world.venue.id)
    _pay(database, clock, world.venue.id, batch_id)
    with database.unit_of_work() as uow:
        bea_line = uow.session.exec(
            select(PayoutLine.id).where(
                PayoutLine.batch_id == batch_id, PayoutLine.party_id == bea.id
            )
        ).one()

    # Bea sees her advice; Anna, signed in, reaches none of Bea's ids on any route.
    bea_browser = signed_in(browser(client, "198.51.100.70"), queue, database, settings, clock,
                            bea.email)  # fmt: skip
    bea_page = bea_browser.get("/me").text
    assert f"/me/performers/{bea.id}/advices/{bea_line}" in bea_page
    advice = bea_browser.get(f"/me/performers/{bea.id}/advices/{bea_line}")
    assert advice.status_code == 200 and bea.name in advice.text
    assert bea_browser.get(f"/me/performers/{bea.id}/advices/{bea_line}.pdf").status_code == 200

    signed_in(client, queue, database, settings, clock, anna.email)
    routes = [route for route in client.app.routes  # type: ignore[attr-defined]
              if isinstance(route, Route) and route.path.startswith("/me/performers/")]  # fmt: skip
    assert len(routes) == 6
    values = {"performer_id": bea.id, "period": "2026-11", "line_id": bea_line}
    walked = 0
    for route in routes:
        path = route.path.format(**{name: values[name] for name in route.param_convertors})
        for method in sorted((route.methods or set()) - {"HEAD"}):
            if method == "GET":
                answer = client.get(path, follow_redirects=False)
            else:
                token = csrf(client, "/me")
                answer = client.request(method, path, data={
                    "csrf_token": token, "holder": "Mallory", "iban": IBAN, "bic": "",
                }, follow_redirects=False)  # fmt: skip
            assert answer.status_code == 404, (method, path, answer.status_code)
            assert bea.name not in answer.text and "Mallory" not in answer.text
            walked += 1
        # Anna's own id with Bea's line: still nothing.
        if "line_id" in route.param_convertors:
            own = route.path.format(performer_id=anna.id, line_id=bea_line)
            assert client.get(own, follow_redirects=False).status_code == 404
    assert walked == 6
    with database.unit_of_work() as uow:
        found = details.details_of(uow.session, bea.venue_id, "performer", bea.id)
        assert found is not None and found.iban == OTHER_IBAN and found.confirmed_at is not None

    # Signed out, every /me page sends the browser to the sign-in page.
    stranger = browser(client, "198.51.100.71")
    for route in client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route) and (route.path == "/me" or route.path.startswith(
                "/me/")) and not route.path.startswith(SIGNED_OUT):  # fmt: skip
            path = route.path.format(**{name: values[name] for name in route.param_convertors})
            answer = stranger.get(path, follow_redirects=False)
            assert answer.status_code == 303, (path, answer.status_code)
            assert answer.headers["location"] == "/me/sign-in"
