"""A pass's code: the bearer secret its holder claims events with.

Like an order token (orders/links.py) it is derived from the holding's id with a
server key, HMAC-SHA256(key, "pass code v1" + holding id), and only its SHA-256 is
stored: the mail with the pass's link can be sent again at any time, and a stolen
database holds no code. Any key of STREAMSVC_TOKEN_KEYS that derived the stored hash
is used, so rotating the signing key keeps older passes' links working.

The link carries the code in the URL fragment (PAGES.md: never in a path or query):
`/passes/{holding_id}#code=…`; the pass page hands it to the service once for a cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote

from config.settings import Settings

_PURPOSE = b"streamsvc pass code v1\x00"


def code_for(
    settings: Settings, holding_id: str, key_id: str | None = None, *, generation: int = 0
) -> str:
    """The code of `holding_id` under the signing key (or `key_id`): 43 characters.

    `generation` counts the pass's transfers (passes/transfer.py): each gives the pass
    a new code, so the previous holder's stops working; 0, the code it was sold with,
    is derived as before transfers existed."""
    secret = settings.token_keys[key_id or settings.token_signing_key_id].get_secret_value()
    message = _PURPOSE + holding_id.encode()
    if generation:
        message += b"\x00" + str(generation).encode()  # ids never hold a NUL
    mac = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def matches(code: str, code_hash: str) -> bool:
    return hmac.compare_digest(hash_code(code), code_hash)


def recover_code(
    settings: Settings, holding_id: str, code_hash: str, *, generation: int = 0
) -> str | None:
    """The holding's code (of that generation), if one of our keys derived it."""
    for key_id in settings.token_keys:
        code = code_for(settings, holding_id, key_id, generation=generation)
        if matches(code, code_hash):
            return code
    return None


def pass_page_link(settings: Settings, holding_id: str, code: str) -> str:
    return f"{settings.public_url.rstrip('/')}/passes/{quote(holding_id, safe='')}#code={code}"
