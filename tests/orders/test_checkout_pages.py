"""The buyer's pages over HTTP: the checkout (simulated and real mode), the order page
and its JSON endpoints, the mail link's token hand-over, and /tickets/resend."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import SIMULATED_STRIPE_KEY, Settings
from streamsvc.app import create_app
from streamsvc.kit.clock import FixedClock
from tests.conftest import RecordingQueue
from tests.factories import buy, make_tier, ok
from tests.harness import Infrastructure
from tests.orders import scenarios as s
from tests.stripe_helpers import LocalStripeError, pay_with_card

pytestmark = pytest.mark.stripe
HTML = {"Accept": "text/html"}


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    # Simulated mode, as `streamsvc run` starts it without a Stripe key.
    return infra.settings(stripe_api_key=SIMULATED_STRIPE_KEY, resend_rate_per_email=2)


def _csrf(client: TestClient, path: str) -> str:
    page = client.get(path, headers=HTML)
    found = re.search(r'data-csrf="([^"]+)"', page.text) or re.search(
        r'name="csrf_token" value="([^"]+)"', page.text
    )
    assert found, page.text
    return found.group(1)


def _holding(client: TestClient, order: dict[str, Any]) -> None:
    client.cookies.set(f"order_{order['id']}", order["order_token"])


def test_the_card_route_exists_only_in_simulated_mode(
    settings: Settings, infra: Infrastructure, clock: FixedClock, queue: RecordingQueue
) -> None:
    def paths(app: Any) -> set[str]:
        return {getattr(route, "path", "") for route in app.routes}

    assert settings.payments_simulated
    assert "/checkout/{order_id}/card" in paths(create_app(settings, clock, queue=queue))
    real = infra.settings(stripe_publishable_key="pk_test_x")
    assert not real.payments_simulated
    app = create_app(real, clock, queue=queue)
    assert "/checkout/{order_id}/card" not in paths(app)
    with TestClient(app) as client:
        answer = client.post("/checkout/ord_x/card", json={"card_token": "tok_x"})
        assert answer.status_code == 404


def test_the_simulated_checkout_page_pays_a_declined_then_a_good_card(
    client: TestClient, shop: Any, localstripe: str
) -> None:
    _, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=2)
    without = client.get(f"/checkout/{order['id']}", headers=HTML)
    assert without.status_code == 200 and "token-handover" in without.text
    _holding(client, order)
    page = client.get(f"/checkout/{order['id']}", headers={**HTML, "Accept-Language": "nl"})
    assert page.status_code == 200
    assert "Simulated payment" in page.text or "Gesimuleerde betaling" in page.text
    assert f"{localstripe}/js.stripe.com/v3/" in page.text
    assert localstripe in page.headers["content-security-policy"]
    assert "€ 40,00" in page.text
    csrf = _csrf(client, f"/checkout/{order['id']}")
    headers = {"X-CSRF-Token": csrf, "Accept": "application/json"}
    token = _token(localstripe, "4000000000000341")
    declined = client.post(f"/checkout/{order['id']}/card", json={"card_token": token},
                           headers=headers)  # fmt: skip
    assert declined.status_code == 402
    assert declined.json()["error"]["fields"]["card"].startswith("Your card was declined")
    again = client.get(f"/checkout/{order['id']}", headers=HTML)
    assert "Your card was declined" in again.text  # shown after a reload too
    paid = client.post(f"/checkout/{order['id']}/card",
                       json={"card_token": _token(localstripe, "4242424242424242")},
                       headers=headers)  # fmt: skip
    assert paid.json() == {"status": "succeeded", "client_secret": None}
    refused = client.post(f"/checkout/{order['id']}/card", json={"card_token": token})
    assert refused.status_code == 403  # no CSRF token


def _token(api_base: str, number: str) -> str:
    from tests.payments.test_simulated_card import card_token

    return card_token(api_base, number)


def test_the_real_checkout_hands_the_client_secret_to_the_order_holder_only(
    infra: Infrastructure, clean_state: None, clock: FixedClock, queue: RecordingQueue
) -> None:
    settings = infra.settings(stripe_publishable_key="pk_test_streamsvc_page")
    with TestClient(create_app(settings, clock, queue=queue)) as client:
        from tests.factories import make_venue, published_event

        venue = make_venue(client)
        event = published_event(client, venue, clock.now())
        tier = make_tier(client, venue, event["id"], name="Limited", price_amount=1500)
        order = buy(client, event["id"], tier["id"])
        assert client.get(f"/checkout/{order['id']}/payment").status_code == 404
        _holding(client, order)
        page = client.get(f"/checkout/{order['id']}", headers=HTML)
        assert 'data-mode="real"' in page.text and "pk_test_streamsvc_page" in page.text
        assert "https://js.stripe.com/v3/" in page.text
        assert order["payment"]["client_secret"] not in page.text  # fetched, not rendered
        assert "https://js.stripe.com" in page.headers["content-security-policy"]
        payment = client.get(f"/checkout/{order['id']}/payment")
        assert payment.json()["client_secret"] == order["payment"]["client_secret"]
        assert payment.headers["cache-control"] == "no-store"


def test_the_order_page_follows_the_order_until_it_shows_the_tickets(
    client: TestClient, shop: Any, database: Any, clock: FixedClock, localstripe: str
) -> None:
    _, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=2)
    # A mail link's #token= is handed over once and becomes the order cookie.
    csrf = _csrf(client, f"/orders/{order['id']}")
    wrong = client.post(f"/orders/{order['id']}/token", json={"token": "nope"},
                        headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert wrong.status_code == 404
    handed = client.post(f"/orders/{order['id']}/token", json={"token": order["order_token"]},
                         headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert handed.status_code == 204
    cookies = handed.headers.get_list("set-cookie")
    assert any(f"Path=/orders/{order['id']}" in c and "HttpOnly" in c for c in cookies)
    assert any(f"Path=/checkout/{order['id']}" in c for c in cookies)
    _holding(client, order)

    page = client.get(f"/orders/{order['id']}", headers=HTML)
    assert page.status_code == 200 and "Waiting for your payment" in page.text
    assert ok(client.get(f"/orders/{order['id']}/state"))["status"] == "pending"
    pay_with_card(localstripe, order["payment"]["payment_intent_id"])  # the webhook is late
    checked = client.post(f"/orders/{order['id']}/check", headers={"X-CSRF-Token": csrf})
    assert checked.json() == {"status": "paid"}
    page = client.get(f"/orders/{order['id']}", headers=HTML)
    staff_tickets = ok(client.get(f"/v1/public/orders/{order['id']}",
                                  headers={"X-Order-Token": order["order_token"]}))["tickets"]  # fmt: skip
    assert len(staff_tickets) == 2
    for ticket in staff_tickets:
        assert f'href="/watch/{ticket["id"]}#code={ticket["code"]}"' in page.text
    assert "Watch" in page.text and "€40.00" in page.text
    ical = client.get(f"/orders/{order['id']}/calendar.ics")
    assert ical.status_code == 200 and "BEGIN:VEVENT" in ical.text


def test_a_declined_payment_is_shown_on_the_order_page(
    client: TestClient, shop: Any, localstripe: str, database: Any, clock: FixedClock
) -> None:
    _, event, tier_id = shop
    order = buy(client, event["id"], tier_id)
    with pytest.raises(LocalStripeError):
        pay_with_card(localstripe, order["payment"]["payment_intent_id"], "4000000000000341")
    s.deliver(client, s.failed(order))
    s.drain(database, clock)
    _holding(client, order)
    page = client.get(f"/orders/{order['id']}", headers=HTML)
    assert "Your card was declined" in page.text and "Back to payment" in page.text


def test_resend_answers_the_same_whether_or_not_orders_exist_and_limits_in_words(
    client: TestClient, shop: Any, database: Any, clock: FixedClock
) -> None:
    _, event, tier_id = shop
    order = buy(client, event["id"], tier_id, email="fan@example.org")
    s.deliver(client, s.succeeded(order))
    s.drain(database, clock)

    def ask(email: str) -> Any:
        csrf = _csrf(client, "/tickets/resend")
        return client.post("/tickets/resend", data={"email": email, "csrf_token": csrf},
                           headers=HTML)  # fmt: skip

    known, unknown = ask("fan@example.org"), ask("nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    answer = re.compile(r'<p role="status" id="resend-answer">(.*?)</p>', re.S)
    found_known, found_unknown = answer.search(known.text), answer.search(unknown.text)
    assert found_known and found_unknown
    assert found_known.group(1) == found_unknown.group(1)
    invalid = ask("not an address")
    assert invalid.status_code == 422 and "Please enter an e-mail address" in invalid.text
    ask("fan@example.org")
    limited = ask("fan@example.org")
    assert limited.status_code == 429
    assert "Too many requests for ticket mails" in limited.text
    assert "resend-answer" not in limited.text


def test_the_order_page_says_how_an_order_ended(
    client: TestClient, shop: Any, database: Any, clock: FixedClock, settings: Settings
) -> None:
    from streamsvc.orders.buying import expired_pending
    from streamsvc.orders.fulfilment import expire
    from streamsvc.payments.factory import gateway_from_settings

    _, event, tier_id = shop
    late = buy(client, event["id"], tier_id, quantity=2, email="late@example.org")
    clock.advance(minutes=settings.reservation_minutes + 1)
    gateway = gateway_from_settings(settings)
    with database.unit_of_work() as uow:
        due = expired_pending(uow.session, clock.now())
    for order_id in due:
        expire(database, gateway, order_id, clock.now())
    _holding(client, late)
    page = client.get(f"/orders/{late['id']}", headers=HTML)
    assert "The reservation expired" in page.text and "Order again" in page.text
    # The checkout of an order that no longer waits sends the buyer to the order page.
    moved = client.get(f"/checkout/{late['id']}", headers=HTML, follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (303, f"/orders/{late['id']}")

    rest = buy(client, event["id"], tier_id, quantity=9, email="quick@example.org")
    s.deliver(client, s.succeeded(rest))
    s.deliver(client, s.succeeded(late))  # paid after all, but the seats are gone
    s.drain(database, clock)
    page = client.get(f"/orders/{late['id']}", headers=HTML)
    assert "the tickets were sold out by then" in page.text
    assert "Watch" not in page.text
