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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class PaymentProviderUnavailable(Exception):
    """The provider could not be reached or failed; the same call may succeed later."""


class PaymentRejected(Exception):
    """The provider refused the request; retrying it unchanged will not help."""


class InvalidWebhook(Exception):
    """The webhook's signature, timestamp or payload is not acceptable."""


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
    type: str  # charge | refund | adjustment ...


class PaymentGateway(Protocol):
    def create_payment_intent(
        self, *, amount: int, currency: str, metadata: Mapping[str, str], idempotency_key: str
    ) -> PaymentIntent:
        """Create a PaymentIntent for `amount` minor units; the buyer confirms it client-side."""
        ...

    def retrieve_payment_intent(self, intent_id: str) -> PaymentIntent:
        """The PaymentIntent as the provider knows it now."""
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

    def payment_balance_transaction(self, payment_intent_id: str) -> BalanceTransaction | None:
        """The balance transaction of the intent's charge; None while nothing was charged."""
        ...

    def refund_balance_transaction(self, refund_id: str) -> BalanceTransaction | None:
        """The balance transaction of a refund; None while the refund moved nothing."""
        ...

    def verify_webhook(
        self, payload: bytes, signature_header: str, secrets: Sequence[str]
    ) -> dict[str, Any]:
        """The event, if `signature_header` signs `payload` under any of `secrets`
        within the tolerance (300 s); else InvalidWebhook."""
        ...
