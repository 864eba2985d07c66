"""The venue's console settings: the origins that may embed its event pages."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlmodel import Session

from streamsvc import audit
from streamsvc.errors import ValidationFailed
from streamsvc.venues.models import Venue

MAX_ORIGINS = 20
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def origin_of(typed: str) -> str | None:
    """ "https://www.venue.example/path" -> "https://www.venue.example"; None if not an
    http(s) origin (no wildcards, no credentials)."""
    try:
        parts = urlsplit(typed.strip())
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not _HOST.match(host) or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def set_embed_origins(session: Session, venue_id: str, typed: list[str]) -> list[str]:
    """Replace the venue's embed origins with those typed (one per line); 422 naming the
    first that is not an origin."""
    origins: list[str] = []
    for line in typed:
        if not line.strip():
            continue
        origin = origin_of(line)
        if origin is None:
            words = {"embed_origins": "not an origin: " + line[:80]}
            raise ValidationFailed("The form has errors.", fields=words)
        if origin not in origins:
            origins.append(origin)
    if len(origins) > MAX_ORIGINS:
        raise ValidationFailed("The form has errors.",
                               fields={"embed_origins": f"at most {MAX_ORIGINS}"})  # fmt: skip
    venue = session.get(Venue, venue_id)
    assert venue is not None
    before = list(venue.embed_origins)
    venue.embed_origins = origins
    session.add(venue)
    if before != origins:
        audit.record(session, venue_id=venue_id, action="venue.embed_origins_changed",
                     object_type="venue", object_id=venue_id,
                     changes={"embed_origins": audit.change(before, origins)})  # fmt: skip
    return origins
