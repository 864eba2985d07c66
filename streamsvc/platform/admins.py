"""Platform admins: people of the console with the platform role (staff/models.py
PlatformAdmin). Made from the command line (`streamsvc platform-admin create`), as the
first venue admin is: whoever runs it hands the printed link over."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from config.settings import Settings
from streamsvc.audit import service as audit
from streamsvc.errors import Conflict
from streamsvc.kit.ids import new_id
from streamsvc.staff import links
from streamsvc.staff.models import PasswordReset, Person, PlatformAdmin
from streamsvc.staff.service import find_person, normalise_email

# As long as a venue admin's invitation: the link is handed over by hand.
LINK_TTL = timedelta(hours=72)


def create_platform_admin(
    session: Session, settings: Settings, email: str, name: str, now: datetime
) -> tuple[Person, str | None]:
    """Make the person (new or known) a platform admin; the one-time link to set a
    password (72 hours), or None when they have one already."""
    person = find_person(session, email)
    if person is None:
        person = Person(
            id=new_id("per"),
            email=normalise_email(email),
            display_name=name.strip() or normalise_email(email).split("@")[0],
            created_at=now,
            updated_at=now,
        )
        session.add(person)
        session.flush()
    if session.get(PlatformAdmin, person.id) is not None:
        raise Conflict("This person is a platform admin already.", code="already_platform_admin")
    session.add(PlatformAdmin(person_id=person.id, created_at=now))
    audit.record(
        session,
        venue_id=None,
        action="platform_admin.created",
        object_type="person",
        object_id=person.id,
    )
    if person.password_hash is not None:
        return person, None
    # A password-reset link: it sets a first password as well, and needs no venue.
    reset_id = new_id("pwr")
    token = links.token_for(settings, links.PASSWORD_RESET, reset_id)
    session.add(
        PasswordReset(
            id=reset_id,
            person_id=person.id,
            token_hash=links.hash_token(token),
            created_at=now,
            expires_at=now + LINK_TTL,
        )
    )
    return person, links.link(settings, links.PASSWORD_RESET_PATH, token)
