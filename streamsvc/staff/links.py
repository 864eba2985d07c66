"""Invitation and password-reset links: `/console/invitations/accept#token=…`.

The token travels in the fragment (never sent to a server, so never logged); the
page POSTs it once. Only its SHA-256 is stored. As the order token (orders/links.py),
it is derived from the row's random id with a server key, HMAC-SHA256(key, purpose +
id), so the worker that mails it later can compute it again; any configured key whose
token matches the stored hash is used, so a key rotation leaves open links working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from config.settings import Settings

INVITATION = b"streamsvc staff invitation v1\x00"
PASSWORD_RESET = b"streamsvc staff password reset v1\x00"
INVITATION_PATH = "/console/invitations/accept"
PASSWORD_RESET_PATH = "/console/password/reset"  # noqa: S105 (a path)


def token_for(settings: Settings, purpose: bytes, row_id: str, key_id: str | None = None) -> str:
    secret = settings.token_keys[key_id or settings.token_signing_key_id].get_secret_value()
    mac = hmac.new(secret.encode(), purpose + row_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def recover(settings: Settings, purpose: bytes, row_id: str, token_hash: str) -> str | None:
    for key_id in settings.token_keys:
        token = token_for(settings, purpose, row_id, key_id)
        if hmac.compare_digest(hash_token(token), token_hash):
            return token
    return None


def link(settings: Settings, path: str, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}{path}#token={token}"
