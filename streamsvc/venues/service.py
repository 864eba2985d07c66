"""Venues and their staff keys."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from streamsvc import audit
from streamsvc.errors import Conflict, NotFound
from streamsvc.kit.ids import new_id, random_token
from streamsvc.venues.auth import new_key_material
from streamsvc.venues.models import ApiKey, Venue
from streamsvc.venues.schemas import ApiKeyCreate, VenueCreate


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")
    return slug or "venue"


def create_venue(session: Session, data: VenueCreate, now: datetime) -> tuple[Venue, ApiKey, str]:
    """A new venue with its first admin key; returns the key once, in clear."""
    venue = new_venue(session, data, now)
    key, clear = create_api_key(
        session, venue.id, ApiKeyCreate(role="admin", label="first admin"), now
    )
    return venue, key, clear


def new_venue(session: Session, data: VenueCreate, now: datetime) -> Venue:
    """A new venue and nothing else: no key (the platform onboards venues whose admins
    log in and make the keys they need; a key nobody was shown would only be a risk)."""
    if data.slug is not None:
        slug = data.slug
        if session.exec(select(Venue.id).where(Venue.slug == slug)).first():
            raise Conflict("This slug is taken.", code="slug_taken", fields={"slug": "taken"})
    else:
        slug = slugify(data.name)
        if session.exec(select(Venue.id).where(Venue.slug == slug)).first():
            slug = f"{slug}-{random_token(6)}"
    venue = Venue(
        id=new_id("ven"),
        name=data.name,
        slug=slug,
        country=data.country,
        currency=data.currency,
        timezone=data.timezone,
        created_at=now,
    )
    session.add(venue)
    session.flush()
    return venue


def create_api_key(
    session: Session, venue_id: str, data: ApiKeyCreate, now: datetime
) -> tuple[ApiKey, str]:
    clear, lookup, secret_hash = new_key_material()
    key = ApiKey(
        id=new_id("key"),
        venue_id=venue_id,
        role=data.role,
        label=data.label,
        lookup=lookup,
        secret_hash=secret_hash,
        created_at=now,
    )
    session.add(key)
    session.flush()
    audit.record(
        session, venue_id=venue_id, action="api_key.created", object_type="api_key",
        object_id=key.id, changes={"role": key.role, "label": key.label},
    )  # fmt: skip
    return key, clear


def list_api_keys(session: Session, venue_id: str) -> list[ApiKey]:
    query = (
        select(ApiKey)
        .where(ApiKey.venue_id == venue_id, ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
        .order_by(col(ApiKey.created_at), col(ApiKey.id))
    )
    return list(session.exec(query))


def revoke_api_key(session: Session, venue_id: str, key_id: str, now: datetime) -> None:
    """Revoke a key at once; the venue's last admin key stays, so the venue is never locked out."""
    key = session.exec(
        select(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.venue_id == venue_id, ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
        .with_for_update()
    ).first()
    if key is None:
        raise NotFound("No such API key.")
    if key.role == "admin":
        admins = session.exec(
            select(func.count())
            .select_from(ApiKey)
            .where(
                ApiKey.venue_id == venue_id,
                ApiKey.role == "admin",
                ApiKey.revoked_at.is_(None),  # type: ignore[union-attr]
            )
        ).one()
        if admins <= 1:
            raise Conflict(
                "This is the venue's last admin key; create another admin key first.",
                code="last_admin_key",
            )
    key.revoked_at = now
    session.add(key)
    audit.record(
        session, venue_id=venue_id, action="api_key.revoked", object_type="api_key",
        object_id=key.id, changes={"role": key.role, "label": key.label},
    )  # fmt: skip


def get_venue(session: Session, venue_id: str) -> Venue:
    venue = session.get(Venue, venue_id)
    if venue is None:
        raise NotFound("No such venue.")
    return venue
