"""CSRF protection for the pages: a signed double-submit cookie.

A browser gets a random nonce in the `csrf` cookie (HttpOnly, SameSite=Lax, path /);
every form carries `csrf_token` = HMAC(key, nonce), and JavaScript sends the same
value in the `X-CSRF-Token` header (pages put it in a `data-csrf` attribute). A POST
is accepted only when the token matches the cookie's nonce. Another site can make a
browser send the cookie, but cannot read the page to learn the token; a neighbour
that can plant cookies (a sibling subdomain) cannot compute the token without the key.

The key is derived from the token signing key of the settings (HMAC with a purpose
label), so it is a server secret without a setting of its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Final

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from config.settings import Settings
from streamsvc.errors import Forbidden

CSRF_COOKIE: Final = "csrf"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
_NONCE_BYTES = 24
_MAX_TOKEN_CHARS = 100


def csrf_key(settings: Settings) -> bytes:
    secret = settings.token_keys[settings.token_signing_key_id].get_secret_value()
    return hmac.new(secret.encode(), b"streamsvc pages csrf v1", hashlib.sha256).digest()


def _sign(key: bytes, nonce: str) -> str:
    mac = hmac.new(key, nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _nonce(request: Request) -> str | None:
    value = request.cookies.get(CSRF_COOKIE, "")
    return value if 20 <= len(value) <= _MAX_TOKEN_CHARS and value.isascii() else None


def csrf_token(request: Request) -> str:
    """The token for this browser's forms; makes a nonce (set by `set_cookie`) if none."""
    nonce = _nonce(request) or getattr(request.state, "csrf_new_nonce", None)
    if nonce is None:
        nonce = secrets.token_urlsafe(_NONCE_BYTES)
        request.state.csrf_new_nonce = nonce
    return _sign(request.app.state.pages.csrf_key, nonce)


def set_cookie(request: Request, response: Response) -> None:
    """Send the nonce made while rendering this page, if one was made."""
    nonce = getattr(request.state, "csrf_new_nonce", None)
    if nonce is not None:
        response.set_cookie(
            CSRF_COOKIE, nonce, httponly=True, samesite="lax", path="/",
            secure=request.app.state.pages.secure_cookies,
        )  # fmt: skip


def check_csrf(request: Request, form: FormData | None = None) -> None:
    """403 `csrf_failed` unless the form field or the header carries this browser's token."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and form is not None:
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    nonce = _nonce(request)
    if not sent or nonce is None or len(sent) > _MAX_TOKEN_CHARS:
        raise _refused()
    expected = _sign(request.app.state.pages.csrf_key, nonce)
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise _refused()


def _refused() -> Forbidden:
    return Forbidden(
        "This form has expired or did not come from this site; reload the page and try again.",
        code="csrf_failed",
    )
