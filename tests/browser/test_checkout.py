"""Buying and paying in a real browser, in simulated mode (localstripe, no Stripe key):
the checkout loads localstripe's Stripe.js stand-in from its own origin, the card
token it makes is confirmed by our server, localstripe sends the signed webhook, a
real Celery worker issues the tickets and mails them, and the order page, polling,
shows them.

(a) from the event page: 2 tickets, Pay, the test card, the order page becomes paid
    with two Watch links, and the ticket mail links to the same watch pages;
(b) a mail link's #token= opens the checkout; a declined card shows its reason beside
    the card field, a second card pays the same order;
(c) in Dutch: "Betalen" and "€ 15,00".
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from starlette.testclient import TestClient

from config.settings import SIMULATED_STRIPE_KEY, Settings
from streamsvc.kit.clock import FixedClock
from tests.factories import make_tier, make_venue, ok, published_event
from tests.harness import TEST_WEBHOOK_SECRET, Infrastructure, WorkerProcess
from tests.mailbox import Mailbox
from tests.stripe_helpers import pay_with_card, register_webhook, unregister_webhook

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.stripe,
              pytest.mark.timeout(300)]  # fmt: skip

GOOD, DECLINED = "4242424242424242", "4000000000000341"
# localstripe's card "element" is five bare inputs of its own, without labels: not ours
# to make accessible (real Stripe's Payment Element is an iframe with its own labels).
CARD_ELEMENT = "#card-element"


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    # Simulated mode, as `streamsvc run` starts it when no Stripe key is set.
    return infra.settings(stripe_api_key=SIMULATED_STRIPE_KEY, missing_country="allow",
                          order_rate_per_ip=1000)  # fmt: skip


@pytest.fixture
def webhooks(site: str, localstripe: str, worker: WorkerProcess) -> Iterator[str]:
    """localstripe sends its signed events to the site's webhook; a worker processes."""
    name, url = f"browser-{uuid.uuid4().hex[:8]}", f"{site}/v1/stripe/webhook"
    register_webhook(localstripe, url, TEST_WEBHOOK_SECRET, name=name)
    yield site
    unregister_webhook(localstripe, url, name=name)


def _shop(client: TestClient, clock: FixedClock, price: int = 1500) -> tuple[str, str]:
    venue = make_venue(client, name="Stadsschouwburg")
    event = published_event(client, venue, clock.now(), title="Don Giovanni")
    tier = make_tier(client, venue, event["id"], name="Stream HD", price_amount=price,
                     capacity=50)  # fmt: skip
    return event["id"], tier["id"]


def _order(site: str, event_id: str, tier_id: str, email: str, quantity: int = 1) -> Any:
    with httpx.Client(base_url=site, timeout=30) as api:
        return ok(api.post(f"/v1/public/events/{event_id}/orders", json={
            "email": email, "country": "NL",
            "items": [{"tier_id": tier_id, "quantity": quantity}]}), 201)  # fmt: skip


def _pay(page: Page, card: str) -> None:
    """Type a test card into localstripe's card inputs and press Pay."""
    element = page.locator(CARD_ELEMENT)
    element.locator("input[placeholder=number]").fill(card)
    element.locator("input[placeholder=exp_month]").fill("12")
    element.locator("input[placeholder=exp_year]").fill("30")
    element.locator("input[placeholder=cvc]").fill("123")
    element.locator("input[placeholder=postal_code]").fill("1011")
    page.get_by_role("button", name=re.compile(r"^(Pay|Betalen)")).click()


def _paid_with_tickets(page: Page, count: int) -> list[tuple[str, str]]:
    """Wait on the order page until it shows `count` Watch links: (ticket id, code)."""
    watch = page.get_by_role("link", name=re.compile(r"^(Watch|Kijken)"))
    expect(watch).to_have_count(count, timeout=60_000)
    found = []
    for href in watch.evaluate_all("links => links.map(a => a.getAttribute('href'))"):
        match = re.fullmatch(r"/watch/([A-Za-z0-9_]+)#code=([A-Za-z0-9-]+)", href)
        assert match, href
        found.append((match.group(1), match.group(2)))
    return found


def _mail_to(mailbox: Mailbox, email: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for received in mailbox.received:
            if email in received.rcpt_tos:
                body = received.message.get_body(preferencelist=("plain",))
                assert body is not None
                return str(body.get_content())
        time.sleep(0.2)
    raise AssertionError(f"no ticket mail to {email}")


def test_a_buyer_chooses_pays_with_a_test_card_and_gets_two_tickets(
    client: TestClient, clock: FixedClock, webhooks: str, mailbox: Mailbox,
    new_page: Callable[..., Page], assert_accessible: Callable[..., None],
) -> None:  # fmt: skip
    site = webhooks
    event_id, _ = _shop(client, clock)
    email = f"fan-{uuid.uuid4().hex[:8]}@example.org"
    page = new_page()
    page.goto(f"{site}/events/{event_id}")
    page.get_by_label("Number of tickets: Stream HD", exact=True).select_option("2")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_role("button", name=re.compile("^Pay")).click()

    page.wait_for_url(re.compile(r"/checkout/ord_[A-Za-z0-9]+$"))
    expect(page.get_by_text("Simulated payment — no money moves.")).to_be_visible()
    expect(page.locator("#order-total")).to_have_text("€30.00")
    assert_accessible(page, exclude=[CARD_ELEMENT])
    _pay(page, GOOD)

    page.wait_for_url(re.compile(r"/orders/ord_[A-Za-z0-9]+$"))
    tickets = _paid_with_tickets(page, 2)
    expect(page.get_by_role("status").filter(has_text="Paid")).to_be_visible()
    expect(page.get_by_role("link", name="Add to calendar")).to_be_visible()
    assert_accessible(page)

    text = _mail_to(mailbox, email)
    for ticket_id, code in tickets:
        assert f"/watch/{ticket_id}#code={code}" in text


def test_a_declined_card_shows_why_and_a_second_card_pays_the_same_order(
    client: TestClient, clock: FixedClock, webhooks: str, new_page: Callable[..., Page],
    assert_accessible: Callable[..., None],
) -> None:  # fmt: skip
    site = webhooks
    event_id, tier_id = _shop(client, clock)
    order = _order(site, event_id, tier_id, "second@example.org")
    page = new_page()
    # A mail link: the token in the fragment, handed over once, then gone from the URL.
    page.goto(f"{site}/checkout/{order['id']}#token={order['order_token']}")
    expect(page.get_by_role("button", name=re.compile("^Pay"))).to_be_visible()
    assert "token" not in page.url

    _pay(page, DECLINED)
    reason = page.locator("#error-card")
    expect(reason).to_have_text("Your card was declined. Try another card.")
    card = page.get_by_role("group", name="Card", exact=True)
    assert card.get_attribute("aria-describedby") == "error-card"
    assert page.url.endswith(f"/checkout/{order['id']}")
    assert_accessible(page, exclude=[CARD_ELEMENT])

    _pay(page, GOOD)
    page.wait_for_url(f"{site}/orders/{order['id']}")
    assert len(_paid_with_tickets(page, 1)) == 1


def test_the_checkout_in_dutch(
    client: TestClient, clock: FixedClock, site: str, new_page: Callable[..., Page],
    assert_accessible: Callable[..., None],
) -> None:  # fmt: skip
    event_id, tier_id = _shop(client, clock)
    order = _order(site, event_id, tier_id, "nl@example.org")
    page = new_page(locale="nl-NL")
    page.goto(f"{site}/checkout/{order['id']}#token={order['order_token']}")
    button = page.get_by_role("button", name=re.compile("^Betalen"))
    expect(button).to_be_visible()
    expect(button).to_contain_text("€ 15,00")
    expect(page.locator("#order-total")).to_have_text("€ 15,00")
    assert page.locator("html").get_attribute("lang") == "nl"
    assert_accessible(page, exclude=[CARD_ELEMENT])


# Real mode's code path against a small stand-in of Stripe.js, served only here (the
# browser's request for https://js.stripe.com/v3/ is answered by the test): the
# documented interface checkout.js uses, `Stripe(key, {locale})`,
# `elements({clientSecret}).create("payment").mount(selector)` and
# `confirmPayment({elements, confirmParams: {return_url}})`, which resolves with
# `{error}` on a decline and otherwise goes to return_url with the intent in the query.
STRIPE_JS_STAND_IN = """
window.Stripe = function (key, options) {
  var seen = window.stripeStandIn = { key: key, options: options };
  return {
    elements: function (opts) {
      seen.clientSecret = opts.clientSecret;
      return { create: function (type) {
        seen.type = type;
        return { mount: function (selector) {
          var label = document.createElement("label");
          label.textContent = "Test card ";
          var input = document.createElement("input");
          input.id = "stand-in-card";
          label.appendChild(input);
          document.querySelector(selector).appendChild(label);
        } };
      } };
    },
    confirmPayment: function (params) {
      seen.returnUrl = params.confirmParams.return_url;
      if (document.getElementById("stand-in-card").value === "decline") {
        return Promise.resolve({ error: { type: "card_error", code: "card_declined",
                                          message: "Your card was declined." } });
      }
      var intent = seen.clientSecret.split("_secret_")[0];
      window.location.assign(params.confirmParams.return_url + "?payment_intent=" + intent +
        "&payment_intent_client_secret=" + seen.clientSecret + "&redirect_status=succeeded");
      return new Promise(function () {});
    }
  };
};
"""


class TestRealMode:
    """With a Stripe key (the harness's, against localstripe) and a publishable key."""

    @pytest.fixture
    def settings(self, infra: Infrastructure, clean_state: None) -> Settings:
        return infra.settings(stripe_publishable_key="pk_test_streamsvc_stand_in",
                              payment_check_rate_per_order=100)  # fmt: skip

    def test_the_payment_element_pays_and_stripe_returns_the_buyer_to_the_order(
        self, settings: Settings, client: TestClient, clock: FixedClock, site: str,
        localstripe: str, worker: WorkerProcess, new_page: Callable[..., Page],
        assert_accessible: Callable[..., None],
    ) -> None:  # fmt: skip
        assert not settings.payments_simulated
        event_id, tier_id = _shop(client, clock)
        order = _order(site, event_id, tier_id, "real@example.org")
        page = new_page()
        page.route("https://js.stripe.com/v3/", lambda route: route.fulfill(
            body=STRIPE_JS_STAND_IN, content_type="application/javascript"))  # fmt: skip
        page.goto(f"{site}/checkout/{order['id']}#token={order['order_token']}")
        expect(page.get_by_label("Test card")).to_be_visible()
        seen = page.evaluate("window.stripeStandIn")
        assert seen["key"] == "pk_test_streamsvc_stand_in" and seen["type"] == "payment"
        assert seen["clientSecret"] == order["payment"]["client_secret"]
        assert seen["options"] == {"locale": "en"}
        assert_accessible(page)

        page.get_by_label("Test card").fill("decline")
        page.get_by_role("button", name=re.compile("^Pay")).click()
        expect(page.locator("#error-card")).to_have_text("Your card was declined.")

        # Stripe charges the card; its webhook never comes: the order page asks Stripe.
        pay_with_card(localstripe, order["payment"]["payment_intent_id"])
        page.get_by_label("Test card").fill("4242")
        page.get_by_role("button", name=re.compile("^Pay")).click()
        page.wait_for_url(re.compile(rf"/orders/{order['id']}"))
        expect(page.get_by_text("Waiting for your payment")).to_be_visible()
        assert page.url == f"{site}/orders/{order['id']}"  # the client secret left the URL
        assert len(_paid_with_tickets(page, 1)) == 1
