"""Which payment gateway a process uses, chosen from the settings."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from config.settings import Settings
from streamsvc.payments.gateway import (
    BalanceTransaction,
    InvalidWebhook,
    PaymentGateway,
    PaymentIntent,
    PaymentProviderUnavailable,
    PayoutReport,
    Refund,
)


def gateway_from_settings(settings: Settings) -> PaymentGateway:
    if settings.stripe_api_key is None:
        return UnconfiguredGateway()
    from streamsvc.payments.stripe_gateway import StripeGateway

    return StripeGateway.from_settings(settings)


class UnconfiguredGateway:
    """No Stripe key: every payment call is refused as unavailable, and says why."""

    _why = "STREAMSVC_STRIPE_API_KEY is not set"

    def create_payment_intent(
        self, *, amount: int, currency: str, metadata: Mapping[str, str], idempotency_key: str
    ) -> PaymentIntent:
        raise PaymentProviderUnavailable(self._why)

    def retrieve_payment_intent(self, intent_id: str) -> PaymentIntent:
        raise PaymentProviderUnavailable(self._why)

    def cancel_payment_intent(self, intent_id: str, *, idempotency_key: str) -> PaymentIntent:
        raise PaymentProviderUnavailable(self._why)

    def create_refund(
        self, *, payment_intent_id: str, amount: int, metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> Refund:  # fmt: skip
        raise PaymentProviderUnavailable(self._why)

    def payment_balance_transaction(self, payment_intent_id: str) -> BalanceTransaction | None:
        raise PaymentProviderUnavailable(self._why)

    def refund_balance_transactions(self, refund_id: str) -> list[BalanceTransaction]:
        raise PaymentProviderUnavailable(self._why)

    def dispute_balance_transactions(self, dispute_id: str) -> list[BalanceTransaction]:
        raise PaymentProviderUnavailable(self._why)

    def recent_balance_transactions(self, since: int) -> Iterator[BalanceTransaction]:
        raise PaymentProviderUnavailable(self._why)

    def charge_payment_intent(self, charge_id: str) -> str | None:
        raise PaymentProviderUnavailable(self._why)

    def balance_transactions_of_payout(self, payout_id: str) -> list[BalanceTransaction]:
        raise PaymentProviderUnavailable(self._why)

    def recent_payouts(self, created_since: int) -> list[PayoutReport]:
        raise PaymentProviderUnavailable(self._why)

    def verify_webhook(
        self, payload: bytes, signature_header: str, secrets: Sequence[str]
    ) -> dict[str, Any]:
        raise InvalidWebhook(self._why)
