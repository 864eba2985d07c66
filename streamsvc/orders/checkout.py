"""Paying a pending order from the checkout page: what Stripe.js needs, and the
simulated mode's card-token confirmation.

Real mode: the browser confirms the PaymentIntent itself (Payment Element,
`confirmPayment`) with the intent's client secret, which `payment_for_checkout`
hands the page of a buyer who holds the order token; no card data reaches us.

Simulated mode (no Stripe key; localstripe stands in): localstripe's Stripe.js
stand-in can only make card tokens, so `pay_with_card_token` confirms the intent
with the token on the server. From the confirmation on, the path is the real one:
the intent succeeds, localstripe sends the signed webhook, a worker issues tickets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from streamsvc.db import Database
from streamsvc.errors import Conflict, DependencyUnavailable, ServiceError, ValidationFailed
from streamsvc.orders import settlement, views
from streamsvc.orders.buying import lock_order
from streamsvc.orders.models import Order, OrderStatus
from streamsvc.payments.gateway import (
    PaymentGateway,
    PaymentIntent,
    PaymentProviderUnavailable,
    PaymentRejected,
    SimulatedCardPayments,
)

log = logging.getLogger(__name__)

# Stripe's codes for a card or bank refusing (or the buyer not authenticating): the
# buyer may try again with another card. Anything else is not the buyer's doing.
DECLINE_CODES = frozenset({
    "card_declined", "insufficient_funds", "expired_card", "incorrect_cvc", "incorrect_number",
    "processing_error", "lost_card", "stolen_card", "generic_decline", "do_not_honor",
    "payment_intent_authentication_failure", "authentication_required", "payment_failed",
})  # fmt: skip


class PaymentDeclined(ServiceError):
    """The card was refused; `code` is Stripe's reason (card_declined, expired_card ...).
    The order stays pending: the buyer may try again on the same page."""

    status, code = 402, "payment_declined"


@dataclass(frozen=True)
class CheckoutPayment:
    """What the checkout page needs to let the buyer pay."""

    order_status: str
    client_secret: str | None  # the intent's, for Stripe.js; None unless pending
    payment_error: str | None  # why the last attempt failed (a code), if one did


def payment_for_checkout(
    database: Database, gateway: PaymentGateway, order_id: str, order_token: str
) -> CheckoutPayment:
    """The intent's client secret for the holder of `order_token` (404 for anyone else).

    Asked of Stripe each time rather than stored: the secret lets its holder confirm
    the payment, so it lives in Stripe and in the buyer's page only (never logged).
    """
    with database.unit_of_work() as uow:
        # Tickets or a season pass: both are paid on this page.
        order = views.authorised_order(uow.session, order_id, order_token)
        status, intent_id = order.status, order.payment_intent_id
        payment_error = order.payment_error
    if status != OrderStatus.pending or intent_id is None:
        return CheckoutPayment(status, None, payment_error)
    intent = _ask(lambda: gateway.retrieve_payment_intent(intent_id))
    return CheckoutPayment(status, intent.client_secret, payment_error)


@dataclass(frozen=True)
class CardAttempt:
    """The outcome of one simulated card payment that was not declined."""

    status: str  # succeeded | processing | requires_action
    client_secret: str | None  # for the 3-D Secure step (requires_action) only


def pay_with_card_token(
    database: Database,
    gateway: PaymentGateway,
    cards: SimulatedCardPayments,
    *,
    order_id: str,
    order_token: str,
    card_token: str,
    now: datetime,
) -> CardAttempt:
    """Confirm a pending order's intent with a card token (simulated mode).

    404 unless `order_token` is the order's (of tickets or of a season pass); 409 when
    the order no longer waits for payment; PaymentDeclined (402, the reason kept on the
    order) when the card is refused; 422 for a token that names no card; 503 when
    localstripe cannot be reached.
    """
    with database.unit_of_work() as uow:
        order = views.authorised_order(uow.session, order_id, order_token)
        _require_payable(order, now)
        intent_id = order.payment_intent_id
    if intent_id is None:
        raise DependencyUnavailable("The payment is not ready yet; try again.")
    intent = _ask(lambda: gateway.retrieve_payment_intent(intent_id))
    if intent.status in ("succeeded", "processing"):
        return CardAttempt(intent.status, None)
    if not _confirmable(intent):
        intent = _replace_intent(database, gateway, order_id, intent)
    try:
        confirmed = cards.confirm_with_card_token(
            intent.id, card_token, idempotency_key=f"order:{order_id}:confirm:{card_token}"
        )
    except PaymentProviderUnavailable as exc:
        raise DependencyUnavailable("Payments are unavailable right now; try again.") from exc
    except PaymentRejected as exc:
        code = exc.code
        if code is None or code not in DECLINE_CODES:
            log.info("card token refused for order %s: %s", order_id, exc)
            raise ValidationFailed("This card cannot be used.", code="invalid_card",
                                   fields={"card": "not a usable card"}) from exc  # fmt: skip
        # The webhook (payment_intent.payment_failed) records the same; recording it
        # now shows it to a buyer who reloads before the webhook came.
        with database.unit_of_work() as uow:
            locked = lock_order(uow.session, order_id)
            if locked is not None:
                settlement.record_failed_attempt(uow.session, locked, code, now)
        raise PaymentDeclined("The card was declined.", code=code,
                              fields={"card": "declined"}) from exc  # fmt: skip
    if confirmed.status == "requires_action":
        return CardAttempt("requires_action", confirmed.client_secret)
    return CardAttempt(confirmed.status, None)


def _require_payable(order: Order, now: datetime) -> None:
    if order.status != OrderStatus.pending:
        raise Conflict("This order no longer waits for payment.", code="order_not_pending",
                       details={"current_status": str(order.status)})  # fmt: skip
    if order.expires_at <= now:
        raise Conflict("The reservation has expired.", code="order_expired")


def _confirmable(intent: PaymentIntent) -> bool:
    """Whether localstripe can confirm this intent with a new card: not after a declined
    charge, nor with a 3-D Secure step left open (Stripe can; localstripe cannot)."""
    if intent.status == "requires_confirmation":
        return True
    return intent.status == "requires_payment_method" and intent.latest_charge is None


def _replace_intent(
    database: Database, gateway: PaymentGateway, order_id: str, old: PaymentIntent
) -> PaymentIntent:
    """A fresh intent for the order in place of `old`, which localstripe will not confirm
    again. The order points at the new one before the old one is cancelled, so the old
    one's cancellation (a webhook in real Stripe) finds it no longer the order's."""
    new = _ask(lambda: gateway.create_payment_intent(
        amount=old.amount, currency=old.currency, metadata=old.metadata,
        idempotency_key=f"order:{order_id}:intent:after:{old.id}",
    ))  # fmt: skip
    with database.unit_of_work() as uow:
        order = lock_order(uow.session, order_id)
        assert order is not None
        if order.status != OrderStatus.pending or order.payment_intent_id not in (old.id, new.id):
            raise Conflict("The order changed meanwhile; reload the page.", code="order_changed")
        order.payment_intent_id = new.id
        uow.session.add(order)
    try:
        gateway.cancel_payment_intent(old.id, idempotency_key=f"order:{order_id}:cancel:{old.id}")
    except (PaymentProviderUnavailable, PaymentRejected) as exc:
        log.warning("could not cancel replaced intent %s of %s: %s", old.id, order_id, exc)
    return new


def _ask(call: Callable[[], PaymentIntent]) -> PaymentIntent:
    try:
        return call()
    except (PaymentProviderUnavailable, PaymentRejected) as exc:
        log.warning("payment provider call failed: %s", exc)
        raise DependencyUnavailable("Payments are unavailable right now; try again.") from exc
