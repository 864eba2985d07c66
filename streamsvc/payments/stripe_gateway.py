"""`PaymentGateway` on Stripe, through the official `stripe` library.

The only module of streamsvc that imports `stripe`. It also works against
localstripe (the stand-in `streamsvc run` starts in development), which knows a
smaller and older API: no `automatic_payment_methods` nor
`allowed_payment_method_types` parameter, idempotency keys ignored, an expanded
`latest_charge` object instead of its id, a bare `400 Bad request` where Stripe
names the error code, and no `created` filter on its lists (payouts oldest first).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import stripe

from config.settings import Settings, SettingsError
from streamsvc.kit import jsontext
from streamsvc.payments.gateway import (
    BalanceTransaction,
    InvalidEvent,
    InvalidWebhook,
    PaymentIntent,
    PaymentProviderUnavailable,
    PaymentRejected,
    PayoutReport,
    Refund,
    payment_error_code,
)

WEBHOOK_TOLERANCE_SECONDS = 300
# A PaymentIntent in one of these states can no longer be canceled; cancel returns it.
_SETTLED = frozenset({"succeeded", "canceled"})
# Keys never belong in a message that reaches logs or API errors.
_SECRET = re.compile(r"\b(?:sk|rk|pk|whsec)_[A-Za-z0-9_*]+")


class StripeGateway:
    """A `PaymentGateway` that talks to Stripe (or localstripe at `api_base`).

    Build one per process from settings (`from_settings`) and `close()` it at
    shutdown; nothing is built at import.
    """

    def __init__(
        self,
        api_key: str,
        api_base: str | None = None,
        timeout_seconds: float = 20,
        max_network_retries: int = 2,
        allowed_payment_method_types: Sequence[str] | None = None,
    ) -> None:
        """`allowed_payment_method_types` (e.g. `["card"]`) restricts what buyers may pay
        with; None leaves it to the payment methods enabled in the Stripe Dashboard."""
        if not api_key:
            raise ValueError("a Stripe API key is required")
        self._allowed_payment_method_types = (
            list(allowed_payment_method_types) if allowed_payment_method_types else None
        )
        self._http_client = stripe.RequestsClient(timeout=timeout_seconds)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=self._http_client,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeGateway:
        """The gateway for STREAMSVC_STRIPE_API_KEY (and STREAMSVC_STRIPE_API_BASE, if set)."""
        key = settings.stripe_api_key.get_secret_value() if settings.stripe_api_key else ""
        if not key:
            raise SettingsError(
                "STREAMSVC_STRIPE_API_KEY is not set; set it to your Stripe secret key, or "
                "start everything with `streamsvc run`, which starts localstripe in development"
            )
        return cls(key, api_base=settings.stripe_api_base or None)

    def close(self) -> None:
        """Close the HTTP connections this thread opened to Stripe."""
        self._http_client.close()  # type: ignore[no-untyped-call]

    def create_payment_intent(
        self, *, amount: int, currency: str, metadata: Mapping[str, str], idempotency_key: str
    ) -> PaymentIntent:
        params: stripe.params.PaymentIntentCreateParams = {
            "amount": amount,
            "currency": currency.lower(),
            "metadata": dict(metadata),
        }
        # Neither `automatic_payment_methods` (Stripe's default anyway) nor
        # `payment_method_types` (a 400 since API version 2026-09-30) is sent;
        # localstripe refuses the first and its successor, and needs neither.
        if self._allowed_payment_method_types:
            params["allowed_payment_method_types"] = self._allowed_payment_method_types
        with _translated_errors():
            intent = self._client.v1.payment_intents.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        return _payment_intent(intent.to_dict())

    def retrieve_payment_intent(self, intent_id: str) -> PaymentIntent:
        with _translated_errors():
            intent = self._client.v1.payment_intents.retrieve(intent_id)
        return _payment_intent(intent.to_dict())

    def payment_balance_transaction(self, payment_intent_id: str) -> BalanceTransaction | None:
        intent = self.retrieve_payment_intent(payment_intent_id)
        if intent.latest_charge is None:
            return None
        with _translated_errors():
            charge = self._client.v1.charges.retrieve(intent.latest_charge).to_dict()
        return self._retrieve_balance_transaction(_id_of(charge.get("balance_transaction")))

    def refund_balance_transactions(self, refund_id: str) -> list[BalanceTransaction]:
        with _translated_errors():
            refund = self._client.v1.refunds.retrieve(refund_id).to_dict()
        found = (self._retrieve_balance_transaction(_id_of(refund.get(field)))
                 for field in ("balance_transaction", "failure_balance_transaction"))  # fmt: skip
        return [txn for txn in found if txn is not None]

    def dispute_balance_transactions(self, dispute_id: str) -> list[BalanceTransaction]:
        with _translated_errors():
            dispute = self._client.v1.disputes.retrieve(dispute_id).to_dict()
        # A dispute carries its balance transactions whole, not as ids.
        return [_balance_transaction(data) for data in dispute.get("balance_transactions") or []]

    def recent_balance_transactions(self, since: int) -> Iterator[BalanceTransaction]:
        # Newest first, and without a `created` filter (localstripe refuses one):
        # stop at the first one older than `since`.
        with _translated_errors():
            page = self._client.v1.balance_transactions.list({"limit": 100})
            for data in page.auto_paging_iter():
                txn = _balance_transaction(data.to_dict())
                if txn.created < since:
                    return
                yield txn

    def balance_transactions_of_payout(self, payout_id: str) -> list[BalanceTransaction]:
        with _translated_errors():
            page = self._client.v1.balance_transactions.list({"payout": payout_id, "limit": 100})
            return [_balance_transaction(data.to_dict()) for data in page.auto_paging_iter()]

    def recent_payouts(self, created_since: int) -> list[PayoutReport]:
        with _translated_errors():
            try:
                page = self._client.v1.payouts.list(
                    {"created": {"gte": created_since}, "limit": 100}
                )
            except stripe.InvalidRequestError:
                # localstripe refuses the filter (400): all of them, the window kept below.
                page = self._client.v1.payouts.list({"limit": 100})
            listed = [_payout_report(data.to_dict()) for data in page.auto_paging_iter()]
        return [payout for payout in listed if payout.created >= created_since]

    def charge_payment_intent(self, charge_id: str) -> str | None:
        with _translated_errors():
            charge = self._client.v1.charges.retrieve(charge_id).to_dict()
        return _id_of(charge.get("payment_intent"))

    def _retrieve_balance_transaction(self, txn_id: str | None) -> BalanceTransaction | None:
        if not txn_id:
            return None
        with _translated_errors():
            data = self._client.v1.balance_transactions.retrieve(txn_id).to_dict()
        return _balance_transaction(data)

    def confirm_with_card_token(
        self, intent_id: str, card_token: str, *, idempotency_key: str
    ) -> PaymentIntent:
        """Simulated mode (localstripe) only: see gateway.SimulatedCardPayments.

        localstripe confirms no intent given a payment method (500 "Not implemented"),
        so the token's card is set on the intent first, then it is confirmed bare.
        """
        with _translated_errors():
            token = self._client.v1.tokens.retrieve(card_token).to_dict()
            card = _id_of(token.get("card"))
            if card is None:
                raise PaymentRejected("the card token carries no card", code="invalid_token")
            self._client.v1.payment_intents.update(intent_id, params={"payment_method": card})
            intent = self._client.v1.payment_intents.confirm(
                intent_id, options={"idempotency_key": idempotency_key}
            )
        return _payment_intent(intent.to_dict())

    def cancel_payment_intent(self, intent_id: str, *, idempotency_key: str) -> PaymentIntent:
        try:
            with _translated_errors():
                intent = self._client.v1.payment_intents.cancel(
                    intent_id, options={"idempotency_key": idempotency_key}
                )
            return _payment_intent(intent.to_dict())
        except PaymentRejected:
            # Stripe answers `payment_intent_unexpected_state` (localstripe a bare 400)
            # when the buyer paid or it was canceled before us: report what it is now.
            current = self.retrieve_payment_intent(intent_id)
            if current.status in _SETTLED:
                return current
            raise

    def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount: int,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> Refund:
        with _translated_errors():
            refund = self._client.v1.refunds.create(
                params={
                    "payment_intent": payment_intent_id,
                    "amount": amount,
                    "metadata": dict(metadata),
                },
                options={"idempotency_key": idempotency_key},
            )
        return _refund(refund.to_dict())

    def verify_webhook(
        self, payload: bytes, signature_header: str, secrets: Sequence[str]
    ) -> dict[str, Any]:
        if not secrets:
            raise InvalidWebhook("no webhook secret is configured")
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidWebhook("the webhook payload is not UTF-8") from exc
        for secret in secrets:
            try:
                # The signature check alone: construct_event would also build a full
                # StripeObject tree that nobody reads (a third of the webhook's time).
                stripe.WebhookSignature.verify_header(
                    text, signature_header, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
                )
            except stripe.SignatureVerificationError:
                continue
            try:
                event = jsontext.loads(text)
            except ValueError as exc:  # also nesting beyond the bound, NaN, Infinity
                raise InvalidEvent(f"the webhook payload is not a JSON event: {exc}") from exc
            if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                raise InvalidEvent("the webhook payload is not a Stripe event")
            return event
        raise InvalidWebhook(
            "the Stripe-Signature header does not sign this payload with a known secret "
            f"within {WEBHOOK_TOLERANCE_SECONDS} s"
        )


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Turn the library's errors into the gateway's: retry later, or refused."""
    try:
        yield
    except stripe.StripeError as exc:
        status = exc.http_status
        transient = isinstance(
            exc, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError
        )
        if transient or status is None or status >= 500:
            raise PaymentProviderUnavailable(f"Stripe is unavailable: {_describe(exc)}") from exc
        code = exc.code if isinstance(exc.code, str) else None
        raise PaymentRejected(f"Stripe refused the request: {_describe(exc)}", code=code) from exc


def _describe(exc: stripe.StripeError) -> str:
    parts = [type(exc).__name__]
    if exc.http_status is not None:
        parts.append(f"HTTP {exc.http_status}")
    if exc.code:
        parts.append(f"code {exc.code}")
    message = " ".join(_SECRET.sub("[redacted]", exc.user_message or "no message").split())
    return f"{message} ({', '.join(parts)})"


def _balance_transaction(data: Mapping[str, Any]) -> BalanceTransaction:
    available_on = data.get("available_on")
    return BalanceTransaction(
        id=str(data["id"]), amount=int(data["amount"]), fee=int(data.get("fee") or 0),
        net=int(data["net"]), currency=str(data["currency"]).lower(),
        status=str(data.get("status") or "available"), type=str(data.get("type") or ""),
        source=str(_id_of(data.get("source")) or ""), created=int(data.get("created") or 0),
        available_on=int(available_on) if available_on is not None else None,
    )  # fmt: skip


def _payout_report(data: Mapping[str, Any]) -> PayoutReport:
    arrival = data.get("arrival_date")
    reconciliation = data.get("reconciliation_status")
    return PayoutReport(
        id=str(data["id"]), status=str(data["status"]), amount=int(data["amount"]),
        currency=str(data["currency"]).lower(), automatic=data.get("automatic") is not False,
        reconciliation_status=str(reconciliation) if reconciliation is not None else None,
        created=int(data.get("created") or 0),
        arrival_date=int(arrival) if arrival is not None else None,
    )  # fmt: skip


def _id_of(value: Any) -> str | None:
    """The id of a field that is an id, an expanded object, or absent."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _latest_charge(data: Mapping[str, Any]) -> str | None:
    charge = _id_of(data.get("latest_charge"))
    if charge is not None:
        return charge
    # Older API versions (and localstripe) list the charges instead.
    charges = data.get("charges")
    if isinstance(charges, Mapping):
        listed = charges.get("data") or []
        if listed:
            return _id_of(listed[0])
    return None


def _payment_intent(data: Mapping[str, Any]) -> PaymentIntent:
    return PaymentIntent(
        id=str(data["id"]),
        status=str(data["status"]),
        amount=int(data["amount"]),
        currency=str(data["currency"]).lower(),
        client_secret=data.get("client_secret"),
        latest_charge=_latest_charge(data),
        metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
        last_payment_error=payment_error_code(data.get("last_payment_error")),
    )


def _refund(data: Mapping[str, Any]) -> Refund:
    return Refund(
        id=str(data["id"]),
        # Stripe documents `status` as nullable; nothing moved until it says so.
        status=str(data.get("status") or "pending"),
        amount=int(data["amount"]),
        currency=str(data["currency"]).lower(),
        charge=_id_of(data.get("charge")),
        payment_intent=_id_of(data.get("payment_intent")),
    )
