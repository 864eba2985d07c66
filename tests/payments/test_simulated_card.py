"""Simulated mode: a card token made in the browser by localstripe's Stripe.js stand-in
confirms the order's PaymentIntent through the gateway; a declined card leaves the
order pending and a second card pays the same order."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.errors import Conflict, NotFound, ValidationFailed
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import checking, checkout
from streamsvc.orders.models import Order
from streamsvc.payments.gateway import PaymentRejected, SimulatedCardPayments
from streamsvc.payments.stripe_gateway import StripeGateway
from tests.factories import buy, ok
from tests.orders import scenarios as s
from tests.stripe_helpers import TEST_PUBLISHABLE_KEY, get_object

pytestmark = pytest.mark.stripe

GOOD, DECLINED, THREE_D_SECURE = "4242424242424242", "4000000000000341", "4000002760003184"


def card_token(api_base: str, number: str) -> str:
    """A card token as localstripe's Stripe.js makes it (`createToken`): publishable key,
    no secret key."""
    form = {"card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2030",
            "card[cvc]": "123", "key": TEST_PUBLISHABLE_KEY}  # fmt: skip
    request = urllib.request.Request(f"{api_base}/v1/tokens",
                                     data=urllib.parse.urlencode(form).encode(), method="POST")  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        token: str = json.loads(response.read())["id"]
    return token


@pytest.fixture
def gateway(settings: Settings) -> Iterator[StripeGateway]:
    gateway = StripeGateway.from_settings(settings)
    yield gateway
    gateway.close()


def _pay(database: Database, gateway: StripeGateway, clock: FixedClock, order: dict[str, Any],
         card: str, api_base: str, token: str | None = None) -> checkout.CardAttempt:  # fmt: skip
    return checkout.pay_with_card_token(
        database, gateway, gateway, order_id=order["id"],
        order_token=token or order["order_token"], card_token=card_token(api_base, card),
        now=clock.now(),
    )  # fmt: skip


def test_the_stripe_gateway_confirms_with_a_card_token(
    gateway: StripeGateway, localstripe: str
) -> None:
    assert isinstance(gateway, SimulatedCardPayments)
    intent = gateway.create_payment_intent(amount=1500, currency="eur", metadata={},
                                           idempotency_key="t-1")  # fmt: skip
    paid = gateway.confirm_with_card_token(intent.id, card_token(localstripe, GOOD),
                                           idempotency_key="t-1-confirm")  # fmt: skip
    assert (paid.status, paid.amount, paid.last_payment_error) == ("succeeded", 1500, None)

    declined = gateway.create_payment_intent(amount=1500, currency="eur", metadata={},
                                             idempotency_key="t-2")  # fmt: skip
    with pytest.raises(PaymentRejected) as refused:
        gateway.confirm_with_card_token(declined.id, card_token(localstripe, DECLINED),
                                        idempotency_key="t-2-confirm")  # fmt: skip
    assert refused.value.code == "card_declined"
    assert gateway.retrieve_payment_intent(declined.id).last_payment_error == "card_declined"

    secure = gateway.create_payment_intent(amount=1500, currency="eur", metadata={},
                                           idempotency_key="t-3")  # fmt: skip
    action = gateway.confirm_with_card_token(secure.id, card_token(localstripe, THREE_D_SECURE),
                                             idempotency_key="t-3-confirm")  # fmt: skip
    assert action.status == "requires_action" and action.client_secret


def test_a_declined_card_then_a_good_one_pays_the_same_order(
    client: TestClient, clock: FixedClock, database: Database, shop: Any, localstripe: str,
    gateway: StripeGateway,
) -> None:  # fmt: skip
    venue, event, tier_id = shop
    order = buy(client, event["id"], tier_id, quantity=2)
    first_intent = order["payment"]["payment_intent_id"]
    with pytest.raises(checkout.PaymentDeclined) as declined:
        _pay(database, gateway, clock, order, DECLINED, localstripe)
    assert (declined.value.code, declined.value.status) == ("card_declined", 402)
    assert "card" in declined.value.fields
    with database.unit_of_work() as uow:
        stored = uow.session.get(Order, order["id"])
        assert stored is not None
        assert (stored.status, stored.payment_error) == ("pending", "card_declined")

    attempt = _pay(database, gateway, clock, order, GOOD, localstripe)
    assert attempt == checkout.CardAttempt("succeeded", None)
    with database.unit_of_work() as uow:
        stored = uow.session.get(Order, order["id"])
        assert stored is not None and stored.status == "pending"  # until the webhook
        second_intent = stored.payment_intent_id
    # localstripe cannot confirm an intent again after a declined charge: the order
    # moved to a fresh intent for the same amount, and the first one is cancelled.
    assert second_intent != first_intent
    assert get_object(localstripe, f"/v1/payment_intents/{first_intent}")["status"] == "canceled"
    intent = get_object(localstripe, f"/v1/payment_intents/{second_intent}")
    assert (intent["status"], intent["amount"]) == ("succeeded", 4000)
    assert intent["metadata"]["order_id"] == order["id"]

    # The webhook of the paid intent pays the order; the first intent's cancellation
    # (Stripe sends one) ends nothing.
    paid = s.stripe_object("payment_intent", id=second_intent, amount=4000, status="succeeded",
                           amount_received=4000, metadata={"order_id": order["id"]})  # fmt: skip
    cancelled = s.stripe_object("payment_intent", id=first_intent, status="canceled",
                                metadata={"order_id": order["id"]})  # fmt: skip
    s.deliver(client, s.event("payment_intent.canceled", cancelled))
    s.drain(database, clock)
    assert ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))["status"] == "pending"
    s.deliver(client, s.event("payment_intent.succeeded", paid))
    s.drain(database, clock)
    staff = ok(client.get(f"/v1/orders/{order['id']}", headers=venue.headers))
    assert staff["status"] == "paid" and len(staff["tickets"]) == 2


def test_three_d_secure_hands_the_page_the_client_secret(
    client: TestClient, clock: FixedClock, database: Database, shop: Any, localstripe: str,
    gateway: StripeGateway,
) -> None:  # fmt: skip
    _, event, tier_id = shop
    order = buy(client, event["id"], tier_id)
    attempt = _pay(database, gateway, clock, order, THREE_D_SECURE, localstripe)
    assert attempt.status == "requires_action"
    assert attempt.client_secret == order["payment"]["client_secret"]
    # The buyer gives up on the 3-D Secure dialog and tries a plain card: still one order.
    attempt = _pay(database, gateway, clock, order, GOOD, localstripe)
    assert attempt.status == "succeeded"
    found = checking.check_pending(database, gateway, order["id"], clock.now())
    assert found == checking.PaymentCheck("paid", "succeeded")


def test_only_the_token_holder_pays_and_only_a_pending_order(
    client: TestClient, clock: FixedClock, database: Database, shop: Any, localstripe: str,
    gateway: StripeGateway, settings: Settings,
) -> None:  # fmt: skip
    _, event, tier_id = shop
    order = buy(client, event["id"], tier_id)
    other = buy(client, event["id"], tier_id, email="other@example.org")
    with pytest.raises(NotFound):
        _pay(database, gateway, clock, order, GOOD, localstripe, token=other["order_token"])
    with pytest.raises(ValidationFailed):
        checkout.pay_with_card_token(database, gateway, gateway, order_id=order["id"],
                                     order_token=order["order_token"], card_token="tok_nothing",
                                     now=clock.now())  # fmt: skip
    clock.advance(minutes=settings.reservation_minutes + 1)
    with pytest.raises(Conflict) as expired:
        _pay(database, gateway, clock, order, GOOD, localstripe)
    assert expired.value.code == "order_expired"
