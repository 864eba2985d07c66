"""The harness's localstripe is a stateful Stripe stand-in on a free port."""

from __future__ import annotations

import base64
import json
import urllib.parse
import urllib.request
from typing import Any

import pytest

pytestmark = pytest.mark.stripe


def _call(base: str, method: str, path: str, form: dict[str, str] | None = None) -> dict[str, Any]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    auth = base64.b64encode(b"sk_test_harness:").decode()
    request.add_header("Authorization", f"Basic {auth}")
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


def test_localstripe_keeps_state(localstripe: str) -> None:
    created = _call(
        localstripe, "POST", "/v1/payment_intents", {"amount": "1500", "currency": "eur"}
    )
    assert created["id"].startswith("pi_")
    fetched = _call(localstripe, "GET", f"/v1/payment_intents/{created['id']}")
    assert fetched["amount"] == 1500
    assert fetched["status"] == "requires_payment_method"
