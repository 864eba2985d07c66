"""Transferring a season pass from its page: the old code, cookie and the moved tickets'
old codes and viewing sessions stop at once, the new holder gets a new code and new
ticket codes by mail, tickets of events already over stay where they were; refusals
are words on the page and change nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.audit.models import AuditEntry
from streamsvc.catalog.models import Event
from streamsvc.db import Database
from streamsvc.errors import ServiceError
from streamsvc.kit.clock import FixedClock
from streamsvc.orders.models import Order, OrderStatus, Ticket
from streamsvc.outbox.models import OutboxMessage
from streamsvc.passes import buying, claims, codes, products, transfer
from streamsvc.passes.models import (
    LateRefund,
    PassHolding,
    PassProduct,
    PassTransfer,
    Weighting,
)
from streamsvc.passes.transfer_mail import mail_transfer_notice, mail_transferred_pass
from streamsvc.payments.factory import gateway_from_settings
from tests.conftest import RecordingQueue
from tests.console.helpers import console_shop
from tests.factories import ok
from tests.mailbox import Mailbox
from tests.orders import scenarios as s
from tests.passes.season import Season, make_season

NEW_HOLDER = "Nina.Jansen@example.org"


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page) or re.search(
        r'data-csrf="([^"]+)"', page
    )
    assert found, "the page carries a CSRF token"
    return found.group(1)


def _field_error(page: str, name: str) -> str:
    found = re.search(rf'<p id="error-{name}" class="field-error" role="alert">([^<]*)</p>', page)
    assert found is not None, f"no error paragraph for {name}"
    return found.group(1)


@dataclass
class Holder:
    season: Season
    holding_id: str
    email: str
    browser: TestClient

    @property
    def page(self) -> str:
        return f"/passes/{self.holding_id}"

    def open_with(self, code: str) -> None:
        """What pass.js does with the mail link's fragment: hand the code over once."""
        token = _csrf(self.browser.get(self.page).text)
        handed = self.browser.post(f"{self.page}/code", json={"code": code},
                                   headers={"X-CSRF-Token": token})  # fmt: skip
        assert handed.status_code == 204, handed.text

    def transfer(self, email: str, *, confirm: bool = True, csrf: bool = True) -> Any:
        shown = self.browser.get(self.page)
        assert shown.status_code == 200
        form = {"email": email}
        if confirm:
            form["confirm"] = "yes"
        if csrf:
            form["csrf_token"] = _csrf(shown.text)
        return self.browser.post(f"{self.page}/transfer", data=form)


def _season(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock, *,
    transferable: bool = True,
) -> Holder:  # fmt: skip
    season = make_season(client, database, settings, clock, concerts=2)
    with database.unit_of_work() as uow:
        product = uow.session.get(PassProduct, season.pass_id)
        assert product is not None
        product.transferable = transferable
        uow.session.add(product)
    bought = season.buy_pass()
    holding = season.holding(bought)
    browser = TestClient(client.app, raise_server_exceptions=False)
    holder = Holder(season, holding.id, holding.email, browser)
    holder.open_with(codes.code_for(settings, holding.id))
    return holder


def _ticket(database: Database, ticket_id: str) -> tuple[Ticket, Order]:
    with database.unit_of_work() as uow:
        ticket = uow.session.get(Ticket, ticket_id)
        assert ticket is not None
        order = uow.session.get(Order, ticket.order_id)
        assert order is not None
        return ticket, order


def _unchanged(database: Database, holder: Holder) -> None:
    with database.unit_of_work() as uow:
        holding = uow.session.get(PassHolding, holder.holding_id)
        assert holding is not None and holding.email == holder.email
        assert codes.matches(codes.code_for(holder.season.settings, holder.holding_id),
                             holding.code_hash)  # fmt: skip
        assert not uow.session.exec(select(PassTransfer)).all()
    assert holder.browser.get(holder.page).status_code == 200  # the cookie still opens it


def test_a_transfer_moves_the_pass_and_its_coming_tickets(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock,
    queue: RecordingQueue, mailbox: Mailbox,
) -> None:  # fmt: skip
    holder = _season(client, database, settings, clock)
    season, old_code = holder.season, codes.code_for(settings, holder.holding_id)
    first, second = (concert.event["id"] for concert in season.concerts)
    with database.unit_of_work() as uow:
        ended = claims.claim(uow, settings, holder.holding_id, first, clock.now())
        coming = claims.claim(uow, settings, holder.holding_id, second, clock.now())
        starts = uow.session.get(Event, second)
        assert starts is not None
        doors = starts.starts_at + timedelta(minutes=10)
    # The first concert is over; the second plays, on the previous holder's television.
    clock.at = doors
    watching = ok(client.post(f"/v1/tickets/{coming.ticket_code}/sessions",
                              json={"device_id": "tv"}, headers={"CF-IPCountry": "NL"}), 201)  # fmt: skip
    beat = {"X-Viewing-Token": watching["token"]}
    assert client.post("/v1/viewing/heartbeat", headers=beat).status_code == 200
    shown = holder.browser.get(holder.page)
    assert shown.status_code == 200 and "Transfer this pass" in shown.text
    assert 'autocomplete="email"' in shown.text and 'id="transfer-confirm"' in shown.text

    done = holder.transfer(NEW_HOLDER)

    assert done.status_code == 200, done.text
    assert "N***@example.org" in done.text and NEW_HOLDER not in done.text
    cleared = done.headers["set-cookie"]
    assert cleared.startswith(f'pass_{holder.holding_id}=""') and "Max-Age=0" in cleared
    # The old code opens nothing: the page with the old cookie answers as a wrong code does.
    stale = TestClient(client.app, raise_server_exceptions=False)
    stale.cookies.set(f"pass_{holder.holding_id}", old_code, path=holder.page)
    wrong = TestClient(client.app, raise_server_exceptions=False)
    wrong.cookies.set(f"pass_{holder.holding_id}", "not-the-code", path=holder.page)
    assert stale.get(holder.page).status_code == wrong.get(holder.page).status_code == 404
    # The previous holder's browser (its cookie gone) cannot hand the old code over again.
    again = holder.browser.get(holder.page)
    assert again.status_code == 200 and "code-handover" in again.text
    refused = holder.browser.post(f"{holder.page}/code", json={"code": old_code},
                                  headers={"X-CSRF-Token": _csrf(again.text)})  # fmt: skip
    assert refused.status_code == 404
    # The new code (generation 1) opens it, for the new holder.
    new_code = codes.code_for(settings, holder.holding_id, generation=1)
    assert new_code != old_code
    newcomer = Holder(season, holder.holding_id, NEW_HOLDER, TestClient(client.app))
    newcomer.open_with(new_code)
    page = newcomer.browser.get(newcomer.page).text
    # The coming concert's ticket moved with a new code; the old one redeems nothing.
    moved, moved_order = _ticket(database, coming.ticket_id)
    assert moved.code != coming.ticket_code and moved.status == "valid"
    assert moved_order.email == NEW_HOLDER
    assert moved_order.token_hash != _ticket(database, ended.ticket_id)[1].token_hash
    assert f'href="/watch/{coming.ticket_id}#code={moved.code}"' in page
    assert coming.ticket_code not in page
    old = client.post(f"/v1/tickets/{coming.ticket_code}/sessions", json={"device_id": "tv"},
                      headers={"CF-IPCountry": "NL"})  # fmt: skip
    assert old.status_code == 404
    watch = f"/watch/{coming.ticket_id}"
    token = _csrf(client.get(watch).text)
    headers = {"Accept": "application/json", "X-CSRF-Token": token}
    assert client.post(f"{watch}/access", json={"code": coming.ticket_code},
                       headers=headers).status_code == 404  # fmt: skip
    assert client.post(f"{watch}/access", json={"code": moved.code},
                       headers=headers).status_code == 204  # fmt: skip
    ok(client.post(f"/v1/tickets/{moved.code}/sessions", json={"device_id": "phone"},
                   headers={"CF-IPCountry": "NL"}), 201)  # fmt: skip
    # The previous holder's player was stopped: its session is gone.
    stopped = client.post("/v1/viewing/heartbeat", headers=beat)
    assert stopped.status_code == 401
    assert stopped.json()["error"]["code"] == "session_unknown"
    # The ended concert's ticket stays with its history: same code, same address, and the
    # new holder is not shown it.
    kept, kept_order = _ticket(database, ended.ticket_id)
    assert kept.code == ended.ticket_code and kept_order.email == holder.email
    assert ended.ticket_code not in page

    with database.unit_of_work() as uow:
        [made] = uow.session.exec(select(PassTransfer)).all()
        assert (made.sequence, made.tickets_moved, made.previous_email) == (1, 1, holder.email)
        assert [m.kind for m in uow.session.exec(select(OutboxMessage)
                .where(OutboxMessage.kind == "PassTransferred"))] == ["PassTransferred"]  # fmt: skip
        [entry] = uow.session.exec(
            select(AuditEntry).where(AuditEntry.action == "pass.transferred")
        ).all()
        assert (entry.actor_kind, entry.actor_id) == ("buyer", holder.holding_id)
        assert (entry.object_type, entry.object_id) == ("pass_holding", holder.holding_id)
        assert entry.changes == {"pass_id": season.pass_id, "transfer": 1, "tickets_moved": 1}
        transfer_id = made.id
    assert ("passes.send_transferred_pass", (transfer_id,)) in queue.sent
    assert ("passes.send_transfer_notice", (transfer_id,)) in queue.sent

    smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": mailbox.port})
    before = len(mailbox.received)
    assert mail_transferred_pass(database, smtp, transfer_id, clock.now()) is True
    assert mail_transfer_notice(database, smtp, transfer_id, clock.now()) is True
    assert mail_transferred_pass(database, smtp, transfer_id, clock.now()) is False  # once
    assert mail_transfer_notice(database, smtp, transfer_id, clock.now()) is False
    to_new, to_old = mailbox.received[before:]
    assert to_new.rcpt_tos == [NEW_HOLDER] and to_old.rcpt_tos == [holder.email]
    body = to_new.message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert codes.pass_page_link(settings, holder.holding_id, new_code) in text
    assert "has been transferred to you" in text and old_code not in text
    notice = to_old.message.get_body(("plain",))
    assert notice is not None and "transferred to another person" in notice.get_content()
    assert new_code not in notice.get_content() and NEW_HOLDER not in notice.get_content()
    with database.unit_of_work() as uow:
        made_now = uow.session.get(PassTransfer, transfer_id)
        assert made_now is not None and made_now.previous_email is None  # forgotten once told


def test_a_pass_that_is_not_transferable_is_refused_in_words(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    holder = _season(client, database, settings, clock, transferable=False)
    assert "Transfer this pass" not in holder.browser.get(holder.page).text
    token = _csrf(holder.browser.get(holder.page).text)
    refused = holder.browser.post(f"{holder.page}/transfer",
                                  data={"csrf_token": token, "email": NEW_HOLDER,
                                        "confirm": "yes"})  # fmt: skip
    assert refused.status_code == 409
    assert "This pass cannot be transferred to another person." in refused.text
    _unchanged(database, holder)


def test_a_refunded_pass_is_not_transferred(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    holder = _season(client, database, settings, clock)
    token = _csrf(holder.browser.get(holder.page).text)
    with database.unit_of_work() as uow:
        holding = uow.session.get(PassHolding, holder.holding_id)
        assert holding is not None
        order = uow.session.get(Order, holding.order_id)
        assert order is not None
        order.status = OrderStatus.refunded  # as a full refund leaves it
        uow.session.add(order)
    refused = holder.browser.post(f"{holder.page}/transfer",
                                  data={"csrf_token": token, "email": NEW_HOLDER,
                                        "confirm": "yes"})  # fmt: skip
    assert refused.status_code == 409
    assert "This pass is no longer valid." in refused.text
    assert 'id="transfer-email"' not in refused.text  # no form for a pass not in force
    _unchanged(database, holder)


def test_a_bad_address_is_said_beside_the_field_and_changes_nothing(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    holder = _season(client, database, settings, clock)
    bad = holder.transfer("nina at example")
    assert bad.status_code == 422
    assert _field_error(bad.text, "email") == "Enter a valid e-mail address."
    assert 'aria-describedby="error-email" aria-invalid="true"' in bad.text
    assert 'value="nina at example"' in bad.text  # what was typed stays
    own = holder.transfer(holder.email.upper())
    assert own.status_code == 422
    assert "already held by this address" in _field_error(own.text, "email")
    unconfirmed = holder.transfer(NEW_HOLDER, confirm=False)
    assert unconfirmed.status_code == 422
    assert _field_error(unconfirmed.text, "confirm") == (
        "Confirm that you want to transfer the pass."
    )
    assert _field_error(unconfirmed.text, "email") == ""
    _unchanged(database, holder)


def test_the_transfer_form_needs_its_csrf_token(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    holder = _season(client, database, settings, clock)
    forged = holder.transfer(NEW_HOLDER, csrf=False)
    assert forged.status_code == 403
    _unchanged(database, holder)


def test_a_pass_changes_hands_at_most_five_times(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    holder = _season(client, database, settings, clock)
    for generation in range(5):
        code = codes.code_for(settings, holder.holding_id, generation=generation)
        with database.unit_of_work() as uow:
            done = transfer.transfer_pass(uow, holder.holding_id, code,
                                          f"holder-{generation}@example.net", clock.now(),
                                          settings=settings, locale="en")  # fmt: skip
        assert done.sequence == generation + 1
        clock.advance(seconds=60)
    last = codes.code_for(settings, holder.holding_id, generation=5)
    # The previous code is one generation behind: refused like any wrong code.
    with pytest.raises(ServiceError) as stale, database.unit_of_work() as uow:
        transfer.transfer_pass(uow, holder.holding_id,
                               codes.code_for(settings, holder.holding_id, generation=4),
                               NEW_HOLDER, clock.now(), settings=settings, locale="en")  # fmt: skip
    assert stale.value.status == 404
    fifth = Holder(holder.season, holder.holding_id, "holder-4@example.net",
                   TestClient(client.app, raise_server_exceptions=False))  # fmt: skip
    fifth.open_with(last)
    page = fifth.browser.get(fifth.page).text
    assert "This pass has been transferred as many times as it may be." in page
    assert 'id="transfer-email"' not in page
    token = _csrf(page)
    refused = fifth.browser.post(f"{fifth.page}/transfer",
                                 data={"csrf_token": token, "email": NEW_HOLDER,
                                       "confirm": "yes"})  # fmt: skip
    assert refused.status_code == 409
    assert "This pass has been transferred as many times as it may be." in refused.text
    with database.unit_of_work() as uow:
        holding = uow.session.get(PassHolding, holder.holding_id)
        assert holding is not None and holding.email == "holder-4@example.net"
        assert codes.matches(last, holding.code_hash)
        sequences = uow.session.exec(
            select(PassTransfer.sequence).order_by(col(PassTransfer.sequence))
        ).all()
        assert list(sequences) == [1, 2, 3, 4, 5]


def test_erasure_forgets_a_previous_holder_before_their_notice(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    holder = _season(client, database, settings, clock)
    assert holder.transfer(NEW_HOLDER).status_code == 200
    ok(client.post("/v1/buyers/erase", json={"email": holder.email},
                   headers=holder.season.venue.headers))  # fmt: skip
    with database.unit_of_work() as uow:
        [made] = uow.session.exec(select(PassTransfer)).all()
        assert made.previous_email is None
        holding = uow.session.get(PassHolding, holder.holding_id)
        assert holding is not None and holding.email == NEW_HOLDER  # not theirs any more
    assert mail_transfer_notice(database, settings, made.id, clock.now()) is False


def test_the_console_says_how_often_and_when_a_pass_changed_hands(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = console_shop(client, queue, database, settings, clock, title="Carmen")
    with database.unit_of_work() as uow:
        product = products.create_pass(uow.session, shop.venue.id, products.PassSetup(
            name="Opera season", description="", price_amount=9000, vat_rate_bps=900,
            currency="EUR", capacity=None, sales_start=None, sales_end=None, max_claims=None,
            transferable=True, weighting=Weighting.equal, late_refund=LateRefund.unplayed,
        ), clock.now())  # fmt: skip
        products.add_event(uow.session, shop.venue.id, product.id, shop.event["id"],
                           tier_id=shop.stream_tier, now=clock.now())  # fmt: skip
        products.set_published(uow.session, shop.venue.id, product.id, True, clock.now())
        pass_id = product.id
    bought = buying.buy_pass(
        database, gateway_from_settings(settings), settings, clock, pass_id=pass_id,
        email="kees@example.org", country="NL", locale="nl",
    )  # fmt: skip
    s.deliver(client, s.succeeded({"id": bought.order_id, "total_amount": bought.total_amount,
                                   "currency": bought.currency,
                                   "payment": {"payment_intent_id": bought.payment_intent_id}}))  # fmt: skip
    s.drain(database, clock)
    page = f"/console/passes/{pass_id}"
    assert re.search(r'<td class="pass-transfers">never</td>', client.get(page).text)
    for generation, moment in enumerate(("2026-12-01T12:05:00+00:00",
                                         "2026-12-01T12:20:00+00:00")):  # fmt: skip
        clock.at = datetime.fromisoformat(moment)
        code = codes.code_for(settings, bought.holding_id, generation=generation)
        with database.unit_of_work() as uow:
            transfer.transfer_pass(uow, bought.holding_id, code, f"friend{generation}@example.net",
                                   clock.now(), settings=settings, locale="nl")  # fmt: skip
    shown = client.get(page).text
    row = re.search(r'<td class="pass-transfers">([^<]*)</td>', shown)
    # The second transfer, at 13:20 in Amsterdam (the venue's timezone).
    assert row is not None and row.group(1).startswith("2 times, last on ")
    assert "12/1/26, 1:20" in row.group(1)
    assert "friend1@example.net" in shown and "kees@example.org" not in shown
