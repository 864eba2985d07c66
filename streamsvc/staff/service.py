"""Members of a venue: invite, accept, change role, remove; password resets by mail.

Services know no HTTP and never commit. Mails leave through durable events
(events.py) that a worker turns into mails (streamsvc/staff/mail.py), as ticket mails
do. A venue always keeps one admin: the last one can be neither removed nor demoted.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from config.settings import Settings
from streamsvc.audit import service as audit
from streamsvc.db import emit
from streamsvc.errors import Conflict, NotFound, ValidationFailed
from streamsvc.kit.ids import new_id
from streamsvc.staff import links, passwords, sessions
from streamsvc.staff.events import InvitationIssued, PasswordResetRequested
from streamsvc.staff.models import (
    ROLES,
    Invitation,
    Membership,
    PasswordReset,
    Person,
    PlatformAdmin,
)

INVITATION_TTL = timedelta(hours=72)
PASSWORD_RESET_TTL = timedelta(hours=1)


class LinkInvalid(ValidationFailed):
    """An invitation or reset link that is unknown, used or expired: one answer for all."""

    status, code = 410, "link_invalid"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_person(session: Session, email: str) -> Person | None:
    return session.exec(select(Person).where(Person.email == normalise_email(email))).first()


def _person(session: Session, email: str, name: str, now: datetime) -> Person:
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
    return person


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationFailed("Unknown role.", fields={"role": "admin, finance or door"})


def add_member(
    session: Session,
    settings: Settings,
    *,
    venue_id: str,
    email: str,
    name: str,
    role: str,
    now: datetime,
    mail: bool = True,
) -> tuple[Membership, str]:
    """Make the person (new or known) a member in `role` and invite them to set a
    password; returns the membership and the invitation link (for the CLI only: the
    others mail it)."""
    _check_role(role)
    person = _person(session, email, name, now)
    taken = session.exec(
        select(Membership.id).where(
            Membership.person_id == person.id, Membership.venue_id == venue_id
        )
    ).first()
    if taken:
        raise Conflict(
            "This person is a member already.",
            code="already_member",
            fields={"email": "already a member"},
        )
    membership = Membership(
        id=new_id("mem"), person_id=person.id, venue_id=venue_id, role=role, created_at=now
    )
    session.add(membership)
    invitation_id = new_id("inv")
    token = links.token_for(settings, links.INVITATION, invitation_id)
    invitation = Invitation(
        id=invitation_id,
        person_id=person.id,
        venue_id=venue_id,
        token_hash=links.hash_token(token),
        created_at=now,
        expires_at=now + INVITATION_TTL,
    )
    session.add(invitation)
    session.flush()
    if mail:
        emit(session, InvitationIssued(invitation.id))
    audit.record(
        session,
        venue_id=venue_id,
        action="member.invited",
        object_type="membership",
        object_id=membership.id,
        changes={"person_id": person.id, "role": role},
    )
    return membership, links.link(settings, links.INVITATION_PATH, token)


def _valid_link(
    session: Session, model: type[Invitation] | type[PasswordReset], token: str, now: datetime
) -> Invitation | PasswordReset:
    query: Any = select(model).where(model.token_hash == links.hash_token(token))
    row: Invitation | PasswordReset | None = session.exec(query.with_for_update()).first()
    if row is None or row.used_at is not None or now >= row.expires_at:
        raise LinkInvalid(
            "This link is unknown, used or expired; ask for a new one.",
            fields={"token": "unknown, used or expired"},
        )
    return row


def link_person(session: Session, token: str, now: datetime, *, invitation: bool) -> Person:
    """The person a valid invitation or reset link is for (without using it)."""
    model = Invitation if invitation else PasswordReset
    row = _valid_link(session, model, token, now)
    person = session.get(Person, row.person_id)
    assert person is not None
    return person


def set_password_by_link(
    session: Session,
    settings: Settings,
    token: str,
    password: str,
    now: datetime,
    *,
    invitation: bool,
) -> Person:
    """Use an invitation or reset link once: set the password. A reset also ends every
    session of the person (whoever knew the old password is out)."""
    model = Invitation if invitation else PasswordReset
    row = _valid_link(session, model, token, now)
    passwords.check_policy(password, settings.staff_password_min_length)
    person = session.get(Person, row.person_id, with_for_update=True)
    assert person is not None
    person.password_hash = passwords.hash_password(password)
    person.updated_at = now
    row.used_at = now
    session.add_all([person, row])
    if not invitation:
        sessions.end_all(session, person.id, now)
    return person


def request_password_reset(
    session: Session, settings: Settings, email: str, now: datetime
) -> str | None:
    """Mail a reset link to a known member; None (and no mail) for anyone else. The
    caller answers the same either way."""
    person = find_person(session, email)
    if person is None or not _has_membership(session, person.id):
        return None
    reset_id = new_id("pwr")
    token = links.token_for(settings, links.PASSWORD_RESET, reset_id)
    session.add(
        PasswordReset(
            id=reset_id,
            person_id=person.id,
            token_hash=links.hash_token(token),
            created_at=now,
            expires_at=now + PASSWORD_RESET_TTL,
        )
    )
    emit(session, PasswordResetRequested(reset_id))
    return reset_id


def _has_membership(session: Session, person_id: str) -> bool:
    """A member of a venue, or a platform admin: someone who may reset a password."""
    return (
        session.exec(select(Membership.id).where(Membership.person_id == person_id)).first()
        is not None
    ) or session.get(PlatformAdmin, person_id) is not None


def list_members(session: Session, venue_id: str) -> list[tuple[Membership, Person]]:
    query = (
        select(Membership, Person)
        .join(Person, col(Person.id) == col(Membership.person_id))
        .where(Membership.venue_id == venue_id)
        .order_by(col(Person.display_name), col(Membership.id))
    )
    return [(membership, person) for membership, person in session.exec(query)]


def _membership(session: Session, venue_id: str, membership_id: str) -> Membership:
    membership = session.exec(
        select(Membership)
        .where(Membership.id == membership_id, Membership.venue_id == venue_id)
        .with_for_update()
    ).first()
    if membership is None:
        raise NotFound("No such member.")
    return membership


def _keep_an_admin(session: Session, venue_id: str, membership: Membership) -> None:
    if membership.role != "admin":
        return
    # Lock the venue's admin memberships: two admins removing each other at once
    # must not both succeed.
    admins = session.exec(
        select(Membership.id)
        .where(Membership.venue_id == venue_id, Membership.role == "admin")
        .with_for_update()
    ).all()
    if len(admins) <= 1:
        raise Conflict(
            "This is the venue's last admin; make someone else admin first.", code="last_admin"
        )


def change_role(session: Session, venue_id: str, membership_id: str, role: str) -> Membership:
    _check_role(role)
    membership = _membership(session, venue_id, membership_id)
    if membership.role == role:
        return membership
    if role != "admin":
        _keep_an_admin(session, venue_id, membership)
    before, membership.role = membership.role, role
    session.add(membership)
    audit.record(
        session,
        venue_id=venue_id,
        action="member.role_changed",
        object_type="membership",
        object_id=membership.id,
        changes={"role": audit.change(before, role), "person_id": membership.person_id},
    )
    return membership


def remove_member(session: Session, venue_id: str, membership_id: str, now: datetime) -> None:
    """Remove a member; their console sessions at this venue end at once."""
    membership = _membership(session, venue_id, membership_id)
    _keep_an_admin(session, venue_id, membership)
    sessions.end_all(session, membership.person_id, now, venue_id=venue_id)
    # Their unused invitations to this venue die with the membership.
    for invitation in session.exec(
        select(Invitation).where(
            Invitation.person_id == membership.person_id,
            Invitation.venue_id == venue_id,
            col(Invitation.used_at).is_(None),
        )
    ):
        invitation.used_at = now
        session.add(invitation)
    session.delete(membership)
    audit.record(
        session,
        venue_id=venue_id,
        action="member.removed",
        object_type="membership",
        object_id=membership.id,
        changes={"person_id": membership.person_id, "role": membership.role},
    )


def admin_count(session: Session, venue_id: str) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(Membership)
            .where(Membership.venue_id == venue_id, Membership.role == "admin")
        ).one()
    )
