"""Viewing tokens: compact, versioned, HMAC-SHA256 under a key id.

    v1.<key id>.<claims, base64url JSON>.<signature, base64url>

The signature covers `v1.<key id>.<claims>`. Every key in STREAMSVC_TOKEN_KEYS
verifies; STREAMSVC_TOKEN_SIGNING_KEY_ID signs, so a key is rotated by adding the
new one, signing with it, and removing the old one once its tokens expired
(minutes). Claims: session (s), ticket (t), event (e), qualities (q), extras (x),
issued (iat) and expiry (exp), Unix seconds. Anything tampered, signed under an
unknown key, malformed or expired (beyond the clock-skew leeway) is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from config.settings import Settings

VERSION = "v1"
_VERIFIED_LIMIT = 50_000
MAX_TOKEN_LENGTH = 2048


class InvalidToken(Exception):
    """Why a token was refused, in words safe to return to the caller."""


@dataclass(frozen=True)
class Claims:
    session_id: str
    ticket_id: str
    event_id: str
    qualities: tuple[str, ...]
    extras: tuple[str, ...]
    issued_at: int
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, signed: str) -> bytes:
    return hmac.new(secret, signed.encode(), hashlib.sha256).digest()


class TokenSigner:
    def __init__(self, keys: dict[str, bytes], signing_key_id: str) -> None:
        if signing_key_id not in keys:
            raise ValueError("the signing key id must be one of the keys")
        self._keys = dict(keys)
        self._kid = signing_key_id
        # Tokens already verified (a player asks for every segment with the same one).
        self._verified: dict[str, Claims] = {}

    def sign(self, claims: Claims) -> str:
        body = {
            "s": claims.session_id, "t": claims.ticket_id, "e": claims.event_id,
            "q": list(claims.qualities), "x": list(claims.extras),
            "iat": claims.issued_at, "exp": claims.expires_at,
        }  # fmt: skip
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        signed = f"{VERSION}.{self._kid}.{payload}"
        return f"{signed}.{_b64(_mac(self._keys[self._kid], signed))}"

    def verify(self, token: str, now: float, leeway: int) -> Claims:
        claims = self._verified.get(token)
        if claims is None:
            claims = self._check(token)
            if len(self._verified) >= _VERIFIED_LIMIT:
                self._verified.clear()
            self._verified[token] = claims
        if now > claims.expires_at + leeway:
            raise InvalidToken("expired token")
        return claims

    def _check(self, token: str) -> Claims:
        """Signature and shape; the result depends on the token alone, so it is kept."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("malformed token")
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != VERSION:
            raise InvalidToken("malformed token")
        _, kid, payload, signature = parts
        secret = self._keys.get(kid)
        if secret is None:
            raise InvalidToken("unknown key id")
        try:
            given = _unb64(signature)
        except ValueError as exc:
            raise InvalidToken("malformed token") from exc
        if not hmac.compare_digest(given, _mac(secret, f"{VERSION}.{kid}.{payload}")):
            raise InvalidToken("bad signature")
        try:
            body = json.loads(_unb64(payload))
            claims = Claims(
                session_id=str(body["s"]), ticket_id=str(body["t"]), event_id=str(body["e"]),
                qualities=tuple(body["q"]), extras=tuple(body["x"]),
                issued_at=int(body["iat"]), expires_at=int(body["exp"]),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidToken("malformed token") from exc
        return claims


def signer_from_settings(settings: Settings) -> TokenSigner:
    keys = {kid: secret.get_secret_value().encode() for kid, secret in settings.token_keys.items()}
    return TokenSigner(keys, settings.token_signing_key_id)
