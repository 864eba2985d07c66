"""What platform admins do to venues: onboard one (the venue and its first admin,
invited by mail), suspend it and resume it. Every action is written to the affected
venue's audit log.

A suspended venue (`Venue.suspended_at`) is closed everywhere its staff or new buyers
would reach it, and nowhere its buyers' tickets are concerned:
- its API keys answer 403 `venue_suspended` (venues/auth.py);
- its members' console sessions end now, and their logins are refused (staff/login.py;
  staff/console.py counts no membership of a suspended venue);
- its events leave the catalogue, its pages and the feeds (listings/service.py; the
  write of the venue raises CatalogueChanged, so every node's cache reloads), and
  they cannot be bought (orders/buying.py);
- tickets already paid keep playing: viewing checks tickets, not venues.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator
from sqlalchemy import update
from sqlmodel import Session, col, select

from config.settings import Settings
from streamsvc.audit import service as audit
from streamsvc.errors import Conflict, NotFound
from streamsvc.kit.validation import Email, Name
from streamsvc.staff.models import StaffSession
from streamsvc.staff.service import add_member
from streamsvc.venues.models import Venue
from streamsvc.venues.schemas import VenueCreate
from streamsvc.venues.service import new_venue


class Onboarding(VenueCreate):
    """A new venue with the city it is in and its first admin (mailed an invitation)."""

    city: Name | None = Field(default=None, max_length=100)
    admin_email: Email
    admin_name: Name | None = None

    @model_validator(mode="after")
    def _blank_city(self) -> Onboarding:
        if self.city is not None and not self.city.strip():
            self.city = None
        return self


def onboard(session: Session, settings: Settings, data: Onboarding, now: datetime) -> Venue:
    """Create the venue and invite its first admin by mail (a link to set a password).

    No API key is made: its admin makes the keys they need in the console."""
    venue = new_venue(
        session, VenueCreate(**data.model_dump(include=set(VenueCreate.model_fields))), now
    )
    venue.city = data.city
    session.add(venue)
    add_member(
        session,
        settings,
        venue_id=venue.id,
        email=data.admin_email,
        name=data.admin_name or "",
        role="admin",
        now=now,
    )
    audit.record(
        session,
        venue_id=venue.id,
        action="venue.onboarded",
        object_type="venue",
        object_id=venue.id,
        changes={"name": venue.name, "city": venue.city},
    )
    return venue


def _locked(session: Session, venue_id: str) -> Venue:
    venue = session.exec(select(Venue).where(Venue.id == venue_id).with_for_update()).first()
    if venue is None:
        raise NotFound("No such venue.")
    return venue


def suspend(session: Session, venue_id: str, now: datetime) -> Venue:
    """Close the venue (module docstring); its members' console sessions end now."""
    venue = _locked(session, venue_id)
    if venue.suspended_at is not None:
        raise Conflict("The venue is suspended already.", code="venue_suspended")
    venue.suspended_at = now
    session.add(venue)
    ended = session.exec(
        update(StaffSession)
        .where(col(StaffSession.venue_id) == venue_id, col(StaffSession.ended_at).is_(None))
        .values(ended_at=now)
    )
    audit.record(
        session,
        venue_id=venue_id,
        action="venue.suspended",
        object_type="venue",
        object_id=venue_id,
        changes={"sessions_ended": int(ended.rowcount or 0)},
    )
    return venue


def resume(session: Session, venue_id: str, now: datetime) -> Venue:
    """Open a suspended venue again: its keys work, its members may log in, its events
    on sale are listed again."""
    venue = _locked(session, venue_id)
    if venue.suspended_at is None:
        raise Conflict("The venue is not suspended.", code="venue_not_suspended")
    since, venue.suspended_at = venue.suspended_at, None
    session.add(venue)
    audit.record(
        session,
        venue_id=venue_id,
        action="venue.resumed",
        object_type="venue",
        object_id=venue_id,
        changes={"suspended_at": since.isoformat()},
    )
    return venue
