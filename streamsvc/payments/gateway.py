"""The payment gateway contract. Only `stripe_gateway.py` talks to Stripe itself.

Every method that moves or could move money takes an idempotency key that is
derived from our own ids (`order:{id}:intent`, `refund:{id}`), so a retry after a
timeout or a crash can never charge or refund twice: the provider answers a
repeated key with the first result.

Errors: a provider that cannot be reached or answers 5xx raises
`PaymentProviderUnavailable` (retry later); a request the provider refuses raises
`PaymentRejected` with the provider's message (do not retry unchanged).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


class PaymentProviderUnavailable(Exception):
    """The provider could not be reached or failed; the same call may succeed later."""


class PaymentRejected(Exception):
    """The provider refused the request; retrying it unchanged will not help.

    `code` is the provider's error code when it gave one (`card_declined`,
    `expired_card`, `payment_intent_authentication_failure` ...): words for a buyer
    are chosen from it, never from the provider's English message.
    """

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class InvalidWebhook(Exception):
    """The webhook's signature, timestamp or payload is not acceptable."""


class InvalidEvent(InvalidWebhook):
    """The webhook is signed, but its payload is not a Stripe event we can read (not
    JSON, nested too deep, not an object with a `type`)."""


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    # requires_payment_method | requires_confirmation | processing | succeeded | canceled ...
    status: str
    amount: int
    currency: str  # lower case, as Stripe spells it
    client_secret: str | None
    latest_charge: str | None
    metadata: Mapping[str, str]
    # Why the latest attempt to pay failed, as the provider's code (`card_declined`,
    # `payment_intent_authentication_failure` ...); None when no attempt failed.
    last_payment_error: str | None = None


@dataclass(frozen=True)
class Refund:
    id: str
    status: str  # pending | succeeded | failed | canceled | requires_action
    amount: int
    currency: str
    charge: str | None
    payment_intent: str | None


@dataclass(frozen=True)
class BalanceTransaction:
    """Money as it reached (or left) our Stripe balance: read, never computed.

    `amount` is gross (negative for refunds), `fee` what Stripe kept, and
    `net = amount - fee`, all in minor units of `currency`.
    """

    id: str
    amount: int
    fee: int
    net: int
    currency: str  # lower case, as Stripe spells it
    status: str  # available | pending
    type: str  # charge | refund | refund_failure | adjustment ...
    source: str  # the charge, refund or dispute that moved the money
    created: int  # unix time
    available_on: int | None = None  # unix time the funds are (or were) available


@dataclass(frozen=True)
class PayoutReport:
    """A payout of the account's balance to the bank (`po_…`), as Stripe lists it now:
    what posting it needs (finance/payouts_stripe.py). Field names are Stripe's."""

    id: str
    status: str  # pending | in_transit | paid | failed | canceled
    amount: int  # minor units paid into the bank: positive
    currency: str  # lower case, as Stripe spells it
    automatic: bool  # by Stripe's schedule; Stripe lists the contents of these only
    # completed | in_progress | not_applicable; None when not said (localstripe)
    reconciliation_status: str | None
    created: int  # unix time
    arrival_date: int | None  # unix time it is (or was) expected in the bank


def payment_error_code(error: object) -> str | None:
    """The code of a PaymentIntent's `last_payment_error` (as Stripe sends it, in an
    intent or a `payment_intent.payment_failed` event): the bank's decline code when
    it gave one (`insufficient_funds`), else Stripe's code (`card_declined`); None when
    there is no error or it names no code."""
    if not isinstance(error, Mapping):
        return None
    for field in ("decline_code", "code"):
        value = error.get(field)
        if isinstance(value, str) and value:
            return value[:64]
    return None


class BalanceReader(Protocol):
    """What reconciliation reads from the provider: never moves money."""

    def retrieve_payment_intent(self, intent_id: str) -> PaymentIntent:
        """The PaymentIntent as the provider knows it now."""
        ...

    def payment_balance_transaction(self, payment_intent_id: str) -> BalanceTransaction | None:
        """The balance transaction of the intent's charge; None while nothing was charged."""
        ...

    def refund_balance_transactions(self, refund_id: str) -> list[BalanceTransaction]:
        """A refund's balance transactions: the refund itself and, when it failed after
        moving money, the one that put the money back; empty while nothing moved."""
        ...

    def dispute_balance_transactions(self, dispute_id: str) -> list[BalanceTransaction]:
        """A dispute's balance transactions: the withdrawal (amount and dispute fee)
        and, when it was won, the reinstatement, as Stripe reports them."""
        ...

    def recent_balance_transactions(self, since: int) -> Iterator[BalanceTransaction]:
        """The account's balance transactions created at or after `since` (unix time),
        newest first."""
        ...

    def charge_payment_intent(self, charge_id: str) -> str | None:
        """The PaymentIntent a charge belongs to, if any."""
        ...


class PayoutReader(Protocol):
    """What posting a payout reads from the provider: never moves money."""

    def balance_transactions_of_payout(self, payout_id: str) -> list[BalanceTransaction]:
        """The balance transactions a payout (`po_…`) pays out, as Stripe lists them
        (`GET /v1/balance_transactions?payout=…`): the charges, refunds and dispute
        movements it settles, and the payout's own transaction (type `payout`, its
        amount negative). Empty for a payout Stripe does not know."""
        ...

    def charge_payment_intent(self, charge_id: str) -> str | None:
        """The PaymentIntent a charge belongs to, if any."""
        ...


class PayoutLister(PayoutReader, Protocol):
    """What collecting payouts reads from the provider: never moves money."""

    def recent_payouts(self, created_since: int) -> list[PayoutReport]:
        """The account's payouts created at or after `created_since` (unix time), each
        as Stripe reports it now, whatever its status (`GET /v1/payouts`, every page)."""
        ...


@runtime_checkable
class SimulatedCardPayments(Protocol):
    """Paying with a card token, for the simulated mode only (localstripe, no Stripe key).

    In real mode the buyer's browser confirms the PaymentIntent itself with Stripe.js
    (Payment Element, `confirmPayment`) and no card data reaches us. localstripe's
    Stripe.js stand-in can only create card tokens, so in simulated mode our server
    confirms the intent with the token; everything after (the webhook, the worker,
    the tickets) is the same path as in real mode.
    """

    def confirm_with_card_token(
        self, intent_id: str, card_token: str, *, idempotency_key: str
    ) -> PaymentIntent:
        """Confirm the intent with the card of `card_token` (`tok_...`, made in the
        browser). A declined card raises PaymentRejected with its code; a card that asks
        for 3-D Secure answers status `requires_action`, which the browser completes
        with the intent's client secret."""
        ...


class PaymentGateway(BalanceReader, PayoutLister, Protocol):
    def create_payment_intent(
        self, *, amount: int, currency: str, metadata: Mapping[str, str], idempotency_key: str
    ) -> PaymentIntent:
        """Create a PaymentIntent for `amount` minor units; the buyer confirms it client-side."""
        ...

    def cancel_payment_intent(self, intent_id: str, *, idempotency_key: str) -> PaymentIntent:
        """Cancel an unpaid PaymentIntent. A PaymentIntent that already succeeded is
        returned as it is (status `succeeded`) instead of raising."""
        ...

    def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount: int,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> Refund:
        """Refund `amount` minor units of a succeeded PaymentIntent."""
        ...

    def verify_webhook(
        self, payload: bytes, signature_header: str, secrets: Sequence[str]
    ) -> dict[str, Any]:
        """The event, if `signature_header` signs `payload` under any of `secrets`
        within the tolerance (300 s); else InvalidWebhook (InvalidEvent when signed but
        not readable as an event: the JSON is parsed with kit.jsontext's depth bound)."""
        ...
