"""Security headers on every response: a strict Content-Security-Policy for pages.

    Content-Security-Policy: default-src 'self'; script-src 'self' <payments>;
      style-src 'self'; img-src 'self' data:; connect-src 'self' <payments>;
      media-src 'self' blob:; frame-src <payments, else 'none'>;
      frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'
    X-Content-Type-Options: nosniff
    Referrer-Policy: no-referrer   (order and watch pages carry secrets in fragments)

No inline script or style is allowed anywhere: pages load files from /static.
<payments> is Stripe's origins (js.stripe.com, api.stripe.com, hooks.stripe.com)
with a real key, or the localstripe origin (STREAMSVC_STRIPE_API_BASE) in simulated
mode, where the checkout loads localstripe's stand-in for Stripe.js.

A page extends the policy of its own response:

    extend_csp(request, {"media-src": ["https://media.example.org"],
                         "connect-src": ["https://media.example.org"]})

Sources are appended to a directive; for `frame-ancestors` they replace 'none'
(an event page a venue embeds in its own site). Sources must be origins or
keywords, never 'unsafe-inline' or 'unsafe-eval' (refused with a ValueError).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config.settings import Settings

STRIPE_JS = "https://js.stripe.com"
STRIPE_API = "https://api.stripe.com"
STRIPE_HOOKS = "https://hooks.stripe.com"
_STATE_KEY = "csp_extra"
_SOURCE = re.compile(
    r"^(?:'(?:self|none|sha256-[A-Za-z0-9+/=]+)'|[a-z][a-z0-9+.-]*:(?://[^\s;,']+)?)$"
)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def base_policy(settings: Settings) -> dict[str, list[str]]:
    """The policy every response gets, from the settings."""
    payments: list[str] = []
    frames: list[str] = []
    if settings.stripe_api_base:
        # Simulated payments: the checkout talks to localstripe only.
        payments = [_origin(settings.stripe_api_base)]
        frames = list(payments)
    elif settings.stripe_api_key is not None:
        payments = [STRIPE_JS, STRIPE_API]
        frames = [STRIPE_JS, STRIPE_HOOKS]
    return {
        "default-src": ["'self'"],
        "script-src": ["'self'", *payments],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'", *payments],
        "media-src": ["'self'", "blob:"],
        "frame-src": frames or ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "object-src": ["'none'"],
    }


def extend_csp(request: Request, extra: Mapping[str, Iterable[str]]) -> None:
    """Add sources to this response's policy (module docstring)."""
    current: dict[str, list[str]] = request.scope.setdefault("state", {}).setdefault(_STATE_KEY, {})
    for directive, sources in extra.items():
        for source in sources:
            if not _SOURCE.match(source):
                raise ValueError(f"not an allowed CSP source: {source!r}")
            current.setdefault(directive, []).append(source)


def allow_framing(request: Request, origins: Iterable[str]) -> None:
    """Let these origins frame this response (a venue's embed origins on its event
    page); anything not a plain http(s) origin is skipped, never widened to a wildcard."""
    allowed = [o for o in origins if _EMBED_ORIGIN.match(o)]
    if allowed:
        extend_csp(request, {"frame-ancestors": allowed})


_EMBED_ORIGIN = re.compile(r"^https?://[a-z0-9.-]{1,253}(?::\d{1,5})?$")


def render_policy(base: Mapping[str, list[str]], extra: Mapping[str, list[str]]) -> str:
    parts = []
    for directive in {**base, **extra}:
        sources = list(base.get(directive, []))
        added = extra.get(directive, [])
        if added and sources in (["'none'"], []):
            sources = []
        sources += [s for s in added if s not in sources]
        parts.append(f"{directive} {' '.join(sources)}")
    return "; ".join(parts)


class SecurityHeadersMiddleware:
    """Set the CSP, nosniff and Referrer-Policy on every HTTP response."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.base = base_policy(settings)
        self.default = render_policy(self.base, {}).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = scope.get("state", {}).get(_STATE_KEY)
                policy = render_policy(self.base, extra).encode() if extra else self.default
                headers = [
                    (k, v) for k, v in message.get("headers", [])
                    if k.lower() not in _OURS
                ]  # fmt: skip
                headers += [
                    (b"content-security-policy", policy),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


_OURS = frozenset({b"content-security-policy", b"x-content-type-options", b"referrer-policy"})
