"""Who is calling: a venue's staff key, or the platform operator's key.

Staff keys look like `ssk_<lookup 12><secret 32>`. The lookup part finds the row;
the SHA-256 of the whole key is compared in constant time. The keys are random
(160 bits of secret), so a fast hash is as safe as a slow one here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta

from sqlmodel import Session, select
from starlette.datastructures import Headers

from config.settings import Settings
from streamsvc.errors import Forbidden, Unauthenticated
from streamsvc.http.callers import Staff
from streamsvc.kit.context import Actor, actor_var
from streamsvc.kit.ids import random_token
from streamsvc.venues.models import ApiKey, Venue

KEY_PREFIX = "ssk_"
_LOOKUP_LEN, _SECRET_LEN = 12, 32
_KEY_SHAPE = re.compile(rf"^{KEY_PREFIX}([0-9a-z]{{{_LOOKUP_LEN}}})([0-9a-z]{{{_SECRET_LEN}}})$")
# Recording every use would make every read a write; once a minute is precise enough.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def new_key_material() -> tuple[str, str, str]:
    """A fresh key: (the key to show once, its lookup part, the hash to store)."""
    lookup = random_token(_LOOKUP_LEN)
    key = f"{KEY_PREFIX}{lookup}{random_token(_SECRET_LEN)}"
    return key, lookup, hash_key(key)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def bearer(headers: Headers) -> str | None:
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def authenticate_staff(session: Session, headers: Headers, now: datetime) -> Staff:
    """The staff member behind the bearer key, or 401. A revoked key fails at once."""
    key = bearer(headers)
    if key is None:
        raise Unauthenticated("Send a venue API key as `Authorization: Bearer <key>`.")
    match = _KEY_SHAPE.match(key)
    row = (
        session.exec(select(ApiKey).where(ApiKey.lookup == match.group(1))).first()
        if match
        else None
    )
    # Compare even when nothing was found, so timing does not tell which part was wrong.
    stored = row.secret_hash if row is not None else "0" * 64
    if not hmac.compare_digest(stored, hash_key(key)) or row is None or row.revoked_at:
        raise Unauthenticated("The API key is unknown or revoked.", code="invalid_api_key")
    venue = session.get(Venue, row.venue_id)
    if venue is None or venue.suspended_at is not None:
        # The key is right (so 403, not 401): the platform operator closed the venue.
        raise Forbidden("This venue is suspended by the platform operator.", code="venue_suspended")
    if row.last_used_at is None or now - row.last_used_at >= _LAST_USED_RESOLUTION:
        row.last_used_at = now
        session.add(row)
    # The audit log names the key (and its label) as the one who acted.
    actor_var.set(Actor(kind="key", id=row.id, label=row.label))
    return Staff(venue_id=row.venue_id, role=row.role, key_id=row.id)


def authenticate_platform(headers: Headers, settings: Settings) -> None:
    key = bearer(headers)
    expected = settings.platform_key.get_secret_value()
    if key is None or not hmac.compare_digest(key.encode(), expected.encode()):
        raise Unauthenticated("This needs the platform operator's key.", code="invalid_api_key")
    actor_var.set(Actor(kind="platform", id="platform", label="platform operator"))


class VenueKeys:
    """The Authenticator of the HTTP layer: venue API keys and the platform key."""

    def staff(self, session: Session, headers: Headers, now: datetime) -> Staff:
        return authenticate_staff(session, headers, now)

    def platform(self, headers: Headers, settings: Settings) -> None:
        authenticate_platform(headers, settings)
