"""Buying a season pass from the pages: the catalogue's and venue page's "Season
passes", the pass's own page and its form, then the same checkout and order pages as
tickets (the pass instead of tickets, and after payment the word that its link was
mailed), with the same e-mail check, Idempotency and rate limits as ticket orders."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.orders.models import Order
from streamsvc.passes.models import PassHolding
from tests.conftest import RecordingQueue
from tests.passes.season import Season, make_season
from tests.stripe_helpers import pay_with_card

HTML = {"Accept": "text/html"}


@pytest.fixture
def settings(infra: Any, clean_state: None) -> Settings:
    # Room for a few orders per address here; one test lowers it to see the limit.
    settings: Settings = infra.settings(order_rate_per_email=3)
    return settings


def _form(page: str) -> dict[str, str]:
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    attempt = re.search(r'name="attempt" value="([^"]+)"', page)
    assert csrf and attempt, page[:2000]
    return {"csrf_token": csrf.group(1), "attempt": attempt.group(1)}


def _season(client: TestClient, database: Database, settings: Settings,
            clock: FixedClock, **over: Any) -> Season:  # fmt: skip
    return make_season(client, database, settings, clock, concerts=2, **over)


def test_the_catalogue_and_the_venue_page_offer_the_pass(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    season = _season(client, database, settings, clock)
    link = f'href="/season-passes/{season.pass_id}"'
    catalogue = client.get("/", headers=HTML)
    assert catalogue.status_code == 200
    assert "Season passes" in catalogue.text and link in catalogue.text
    assert "2 events" in catalogue.text and "€60.00" in catalogue.text
    venue = client.get(f"/venues/{season.venue.id}", headers=HTML)
    assert link in venue.text

    page = client.get(f"/season-passes/{season.pass_id}", headers=HTML)
    assert page.status_code == 200
    for concert in season.concerts:
        assert concert.event["title"] in page.text
    assert "All events of the pass" in page.text and "€60.00" in page.text
    assert re.search(r'<button type="submit" id="pay-pass">Pay ', page.text)
    dutch = client.get(f"/season-passes/{season.pass_id}", headers={**HTML,
                       "Accept-Language": "nl"})  # fmt: skip
    assert ">Betalen " in dutch.text
    # A withdrawn pass is neither listed nor shown.
    from streamsvc.passes import products

    with database.unit_of_work() as uow:
        products.set_published(uow.session, season.venue.id, season.pass_id, False, clock.now())
    assert client.get(f"/season-passes/{season.pass_id}", headers=HTML).status_code == 404
    # The console announces its changes (CatalogueChanged); this one, made behind its
    # back, leaves the listing once the cached one expires.
    clock.advance(seconds=settings.catalogue_cache_seconds + 1)
    assert link not in client.get(f"/venues/{season.venue.id}", headers=HTML).text
    assert client.get("/season-passes/pas_unknown", headers=HTML).status_code == 404


def test_a_pass_is_bought_from_its_page_and_paid_on_the_checkout_of_orders(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock,
    localstripe: str, queue: RecordingQueue,
) -> None:  # fmt: skip
    season = _season(client, database, settings, clock)
    path = f"/season-passes/{season.pass_id}"
    form = {**_form(client.get(path, headers=HTML).text), "email": "fan@example.org",
            "country": "BE"}  # fmt: skip
    bought = client.post(path, data=form, headers=HTML, follow_redirects=False)
    assert bought.status_code == 303, bought.text
    found = re.fullmatch(r"/checkout/(ord_\w+)", bought.headers["location"])
    assert found is not None
    order_id = found.group(1)
    cookies = bought.headers.get_list("set-cookie")
    assert any(f"order_{order_id}=" in c and "HttpOnly" in c for c in cookies)
    # Pressing Pay twice (the same attempt) buys one pass.
    again = client.post(path, data=form, headers=HTML, follow_redirects=False)
    assert again.headers["location"] == f"/checkout/{order_id}"
    with database.unit_of_work() as uow:
        order = uow.session.get(Order, order_id)
        assert order is not None and order.pass_id == season.pass_id
        assert (order.email, order.country, order.total_amount) == ("fan@example.org", "BE", 6000)
        intent_id = order.payment_intent_id
        holdings = uow.session.exec(
            select(PassHolding).where(PassHolding.pass_id == season.pass_id)
        ).all()
    assert len(holdings) == 1 and intent_id is not None

    checkout = client.get(f"/checkout/{order_id}", headers=HTML)
    assert checkout.status_code == 200
    assert "Pay for your season pass" in checkout.text and "Season 2027" in checkout.text
    assert "Your season pass is reserved until" in checkout.text
    assert client.get(f"/checkout/{order_id}/payment").json()["status"] == "pending"

    order_page = client.get(f"/orders/{order_id}", headers=HTML)
    assert "Waiting for your payment" in order_page.text
    assert season.concerts[1].event["title"] in order_page.text  # the pass's events
    csrf = re.search(r'data-csrf="([^"]+)"', order_page.text)
    assert csrf is not None
    pay_with_card(localstripe, intent_id)  # the webhook is late: the page asks Stripe
    checked = client.post(f"/orders/{order_id}/check", headers={"X-CSRF-Token": csrf.group(1)})
    assert checked.json() == {"status": "paid"}
    assert ("passes.send_pass", (order_id,)) in queue.sent  # its link is mailed
    paid = client.get(f"/orders/{order_id}", headers=HTML)
    assert "We have sent the link to your season pass" in paid.text
    assert "Watch" not in paid.text
    receipt = client.get(f"/orders/{order_id}/receipt", headers=HTML)
    assert receipt.status_code == 200
    assert "Season pass" in receipt.text and "Season 2027" in receipt.text
    assert "4.95" in receipt.text  # the VAT within €60.00 at 9 %
    # The checkout of a paid order sends the buyer on to the order page.
    moved = client.get(f"/checkout/{order_id}", headers=HTML, follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (303, f"/orders/{order_id}")
    # Another browser, without the order cookie, reads nothing of it.
    stranger = TestClient(client.app)
    assert "Season 2027" not in stranger.get(f"/orders/{order_id}", headers=HTML).text
    assert stranger.get(f"/orders/{order_id}/receipt", headers=HTML).status_code == 404


def test_the_pass_form_refuses_in_words_beside_the_field(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    season = _season(client, database, settings, clock)
    path = f"/season-passes/{season.pass_id}"
    form = _form(client.get(path, headers=HTML).text)
    empty = client.post(path, data={**form, "email": "", "country": "NL"}, headers=HTML)
    assert empty.status_code == 422
    assert re.search(r'id="error-email"[^>]*>Enter your e-mail address\.<', empty.text)
    invalid = client.post(path, data={**form, "email": "not an address", "country": "NL"},
                          headers=HTML)  # fmt: skip
    assert invalid.status_code == 422
    assert "Enter a valid e-mail address." in invalid.text
    assert 'value="not an address"' in invalid.text  # what was typed is kept
    forged = client.post(path, data={"email": "fan@example.org", "country": "NL"}, headers=HTML)
    assert forged.status_code == 403
    with database.unit_of_work() as uow:
        assert not uow.session.exec(select(Order).where(Order.pass_id == season.pass_id)).all()


def test_buying_passes_is_rate_limited_per_address_as_ticket_orders_are(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    season = _season(client, database, settings, clock)
    path = f"/season-passes/{season.pass_id}"
    answers = []
    for _ in range(settings.order_rate_per_email + 1):
        form = {**_form(client.get(path, headers=HTML).text), "email": "many@example.org",
                "country": "NL"}  # fmt: skip
        answers.append(client.post(path, data=form, headers=HTML, follow_redirects=False))
    assert [a.status_code for a in answers[:-1]] == [303] * settings.order_rate_per_email
    assert answers[-1].status_code == 429 and "Retry-After" in answers[-1].headers


def test_a_sold_out_pass_says_so(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    from streamsvc.passes.models import PassProduct

    season = _season(client, database, settings, clock)
    with database.unit_of_work() as uow:
        product = uow.session.get(PassProduct, season.pass_id)
        assert product is not None
        product.capacity = 1
        uow.session.add(product)
    path = f"/season-passes/{season.pass_id}"
    form = {**_form(client.get(path, headers=HTML).text), "email": "first@example.org",
            "country": "NL"}  # fmt: skip
    assert client.post(path, data=form, headers=HTML, follow_redirects=False).status_code == 303
    page = client.get(path, headers=HTML)
    assert "This pass is sold out." in page.text and 'id="pay-pass"' not in page.text
    # A form shown before it sold out: refused in words, with the status.
    late = client.post(path, data={**form, "email": "late@example.org"}, headers=HTML)
    assert late.status_code == 409 and "This pass is sold out." in late.text
