"""Viewing tokens: compact, versioned, HMAC-SHA256 under a key id.

    v1.<key id>.<claims, base64url JSON>.<signature, base64url>

The signature covers `v1.<key id>.<claims>`. Every key in STREAMSVC_TOKEN_KEYS
verifies; STREAMSVC_TOKEN_SIGNING_KEY_ID signs, so a key is rotated by adding the
new one, signing with it, and removing the old one once its tokens expired
(minutes). Claims: session (s), ticket (t), event (e), qualities (q), extras (x),
issued (iat) and expiry (exp), Unix seconds; a recording's token adds kind (k,
`recording`), and then t names the recording access and e the recording. Anything
tampered, signed under an unknown key, malformed or expired (beyond the clock-skew
leeway) is refused.
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
    # EVENT: ticket_id is a ticket, event_id its event. RECORDING: ticket_id is a recording
    # access (the session owner, its Redis keys), event_id the recording (/vod/{id}/…).
    kind: str = "event"


EVENT, RECORDING = "event", "recording"


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
        if claims.kind != EVENT:  # an event's token stays as it always was
            body["k"] = claims.kind
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
                session_id=_text(body["s"]), ticket_id=_text(body["t"]),
                event_id=_text(body["e"]), qualities=_texts(body["q"]),
                extras=_texts(body["x"]), issued_at=_seconds(body["iat"]),
                expires_at=_seconds(body["exp"]), kind=_kind(body.get("k", EVENT)),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise InvalidToken("malformed token") from exc
        return claims


# Claims are exactly what `sign` writes: a signed token of another shape (an exp that
# is a float, infinite or in the year 300000) is malformed, never a crash.
_MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z


def _seconds(value: object) -> int:
    if type(value) is not int or not 0 <= value <= _MAX_SECONDS:
        raise ValueError("not a Unix time in seconds")
    return value


def _kind(value: object) -> str:
    if value not in (EVENT, RECORDING):
        raise ValueError("not a kind of token")
    return str(value)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value


def _texts(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError("not a list")
    return tuple(_text(item) for item in value)


def signer_from_settings(settings: Settings) -> TokenSigner:
    keys = {kid: secret.get_secret_value().encode() for kid, secret in settings.token_keys.items()}
    return TokenSigner(keys, settings.token_signing_key_id)
