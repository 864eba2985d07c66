"""The buyer's links in mails: the order page (`#token=`) and the watch pages (`#code=`).

Secrets travel in the fragment, which browsers never send to a server; the page hands
them over once (PAGES.md). A mail sent long after the order was placed (the ticket
mail, a resend) must still carry the order token, of which only the hash is stored:
so the token is derived from the order id with a server key,
HMAC-SHA256(key, "order token v1" + order id), and recomputed when the mail is built.
Any key of STREAMSVC_TOKEN_KEYS whose token matches the stored hash is used, so
rotating the signing key leaves older orders' links working while their key is kept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote

from config.settings import Settings

_PURPOSE = b"streamsvc order token v1\x00"


def order_token_for(settings: Settings, order_id: str, key_id: str | None = None) -> str:
    """The order token of `order_id` under the signing key (or `key_id`): 43 characters
    of URL-safe base64, 256 bits."""
    secret = settings.token_keys[key_id or settings.token_signing_key_id].get_secret_value()
    mac = hmac.new(secret.encode(), _PURPOSE + order_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def recover_order_token(settings: Settings, order_id: str, token_hash: str) -> str | None:
    """The order's token, if one of our keys derived it (orders placed before tokens were
    derived have a random one, which nobody can recover: their mails carry no link)."""
    for key_id in settings.token_keys:
        token = order_token_for(settings, order_id, key_id)
        if hmac.compare_digest(hashlib.sha256(token.encode()).hexdigest(), token_hash):
            return token
    return None


def order_page_link(settings: Settings, order_id: str, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/orders/{quote(order_id, safe='')}#token={token}"
