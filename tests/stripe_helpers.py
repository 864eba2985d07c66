"""Stripe test utilities: drive localstripe over HTTP the way Stripe.js would, and
build webhook events from Stripe's own example objects, signed with the real scheme.

No `import stripe` here: these speak Stripe's HTTP API (form-encoded, Basic auth)
directly, so the gateway under test is the only user of the library.

What localstripe (1.15) accepts, found by reading its source and trying it:
- Every /v1 call needs a secret key (`sk_…`) in the Authorization header, even
  creating a PaymentMethod; a publishable key (`key=pk_…`) is accepted only by a few
  Stripe.js endpoints, `/v1/payment_intents/{id}/_authenticate` among them.
- `POST /v1/payment_intents/{id}/confirm` refuses every parameter: `payment_method`
  answers 500 "Not implemented", `client_secret` 400. The payment method is set by
  updating the PaymentIntent first, then it is confirmed with an empty body.
- Test cards behave as on Stripe: 4242… pays, 4000000000000341 is declined (402 on
  confirm), 4000002500003155 asks for 3-D Secure (`requires_action`).
- Webhooks are registered with `POST /_config/webhooks/{name}` (url, secret and an
  optional list of event types) and are sent about 1 s after the event, signed
  `t=<created>,v1=<hmac>`. They cannot be deleted, only re-registered.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TEST_SECRET_KEY = "sk_test_streamsvc_helpers"
TEST_PUBLISHABLE_KEY = "pk_test_streamsvc_helpers"
FIXTURES_PATH = Path(__file__).parent / "fixtures" / "stripe" / "fixtures3.json"


class LocalStripeError(Exception):
    """localstripe answered with an error status; `body` is its JSON answer."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        message = body.get("error", {}).get("message", "") if isinstance(body, dict) else ""
        super().__init__(f"localstripe answered {status}: {message}")
        self.status = status
        self.body = body


def _request(
    api_base: str,
    method: str,
    path: str,
    form: Mapping[str, str] | None = None,
    *,
    json_body: Mapping[str, Any] | None = None,
    secret_key: str | None = TEST_SECRET_KEY,
) -> dict[str, Any]:
    data: bytes | None = None
    headers: dict[str, str] = {}
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    elif form is not None or method == "POST":
        data = urllib.parse.urlencode(form or {}).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if secret_key is not None:
        token = base64.b64encode(f"{secret_key}:".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    request = urllib.request.Request(
        api_base.rstrip("/") + path, data=data, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            raw_error = exc.read()
        try:
            body = json.loads(raw_error)
        except ValueError:
            body = {"error": {"message": raw_error.decode(errors="replace")}}
        raise LocalStripeError(exc.code, body) from None
    if not raw.strip():
        return {}
    result: dict[str, Any] = json.loads(raw)
    return result


def get_object(api_base: str, path: str) -> dict[str, Any]:
    """GET a localstripe path (e.g. `/v1/payment_intents/pi_…`) with the test secret key."""
    return _request(api_base, "GET", path)


def pay_with_card(
    api_base: str,
    intent_id: str,
    card: str = "4242424242424242",
    *,
    complete_authentication: bool = True,
) -> dict[str, Any]:
    """Pay a PaymentIntent as a buyer would through Stripe.js; the intent's JSON after.

    Creates a card PaymentMethod, attaches it to the intent and confirms it. A card
    that asks for 3-D Secure is then authenticated (or fails authentication) the way
    localstripe's Stripe.js does it, with the publishable key and the client secret.
    A declined card raises LocalStripeError (402), as Stripe.js reports an error.
    """
    method = _request(
        api_base,
        "POST",
        "/v1/payment_methods",
        {
            "type": "card",
            "card[number]": card,
            "card[exp_month]": "12",
            "card[exp_year]": "2030",
            "card[cvc]": "123",
        },
    )
    path = f"/v1/payment_intents/{urllib.parse.quote(intent_id)}"
    _request(api_base, "POST", path, {"payment_method": method["id"]})
    intent = _request(api_base, "POST", f"{path}/confirm")
    if intent.get("status") == "requires_action":
        success = "true" if complete_authentication else "false"
        intent = _request(
            api_base,
            "POST",
            f"{path}/_authenticate?success={success}",
            json_body={"key": TEST_PUBLISHABLE_KEY, "client_secret": intent["client_secret"]},
            secret_key=None,
        )
    return intent


def create_payout(
    api_base: str, amount: int, *, status: str | None = None, currency: str = "eur"
) -> dict[str, Any]:
    """A payout made at localstripe, as the operator would make one in the dashboard
    (localstripe's are all manual, `automatic: false`, and carry no
    `reconciliation_status`); `status` pending unless `paid` or `failed`. No webhook
    reaches streamsvc unless one is registered."""
    form = {"amount": str(amount), "currency": currency}
    if status is not None:
        form["status"] = status
    return _request(api_base, "POST", "/v1/payouts", form)


def update_payout(api_base: str, payout_id: str, **fields: str) -> dict[str, Any]:
    """Change a localstripe payout's fields (its `status`, as Stripe moves it on)."""
    return _request(api_base, "POST", f"/v1/payouts/{urllib.parse.quote(payout_id)}", fields)


def _webhook_name(url: str) -> str:
    return "streamsvc-" + hashlib.sha256(url.encode()).hexdigest()[:16]


def register_webhook(
    api_base: str,
    url: str,
    secret: str,
    events: list[str] | None = None,
    *,
    name: str | None = None,
) -> None:
    """Have localstripe send its events (all, or only `events`) to `url`, signed with `secret`.

    Registering the same `url` (or `name`) again replaces the earlier registration.
    """
    body: dict[str, Any] = {"url": url, "secret": secret}
    if events is not None:
        body["events"] = list(events)
    # JSON rather than a form: a form cannot say "an empty list of events".
    _request(
        api_base,
        "POST",
        f"/_config/webhooks/{urllib.parse.quote(name or _webhook_name(url))}",
        json_body=body,
        secret_key=None,
    )


def unregister_webhook(api_base: str, url: str, *, name: str | None = None) -> None:
    """Stop localstripe sending events to `url` (it has no delete: subscribe to none)."""
    register_webhook(api_base, url, "whsec_unregistered", events=[], name=name)


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header value for `payload`, as Stripe computes it."""
    signed_at = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{signed_at}.".encode() + payload, hashlib.sha256)
    return f"t={signed_at},v1={mac.hexdigest()}"


@functools.cache
def _resources() -> dict[str, Any]:
    resources: dict[str, Any] = json.loads(FIXTURES_PATH.read_text())["resources"]
    return resources


def stripe_object(kind: str, **changes: Any) -> dict[str, Any]:
    """A fresh copy of Stripe's example `kind` object (e.g. "charge", "refund",
    "dispute", "payment_intent") with the top-level `changes` applied."""
    resources = _resources()
    if kind not in resources:
        raise KeyError(f"no Stripe example object {kind!r} in {FIXTURES_PATH.name}")
    obj: dict[str, Any] = copy.deepcopy(resources[kind])
    obj.update(copy.deepcopy(changes))
    return obj


def event(
    kind: str, obj: dict[str, Any], event_id: str | None = None, created: int | None = None
) -> dict[str, Any]:
    """A Stripe `event` of type `kind` (e.g. "charge.refunded") carrying `obj`."""
    return stripe_object(
        "event",
        id=event_id or f"evt_{uuid.uuid4().hex[:24]}",
        type=kind,
        created=int(time.time()) if created is None else created,
        data={"object": obj},
    )


def signed_webhook(
    evt: Mapping[str, Any], secret: str, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers Stripe would POST for `evt` to an endpoint with `secret`."""
    payload = json.dumps(evt, indent=2).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": sign(payload, secret, timestamp),
    }
    return payload, headers
