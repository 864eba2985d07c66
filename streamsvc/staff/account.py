"""A person's own account: enrol or remove TOTP, recovery codes, log out everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from config.settings import Settings
from streamsvc.audit import service as audit
from streamsvc.errors import Conflict, ValidationFailed
from streamsvc.kit.ids import new_id
from streamsvc.staff import passwords, sessions, totp
from streamsvc.staff.console import is_platform_admin, memberships, mfa_required
from streamsvc.staff.models import Person, RecoveryCode


@dataclass(frozen=True)
class Enrolment:
    """What the account page shows while enrolling: the URI as text and as a QR code."""

    uri: str
    secret: str
    qr_svg: str


def _person(session: Session, person_id: str) -> Person:
    person = session.get(Person, person_id, with_for_update=True)
    assert person is not None
    return person


def enrolment(session: Session, person_id: str, now: datetime) -> Enrolment | None:
    """The secret being enrolled (a new one the first time); None when TOTP is on."""
    person = _person(session, person_id)
    if person.totp_secret is not None:
        return None
    if person.totp_pending_secret is None:
        person.totp_pending_secret = totp.new_secret()
        person.updated_at = now
        session.add(person)
    secret = person.totp_pending_secret
    uri = totp.provisioning_uri(secret, person.email)
    return Enrolment(uri=uri, secret=secret, qr_svg=totp.qr_svg(uri, "QR code"))


def _record(session: Session, person: Person, action: str) -> None:
    for _, venue in memberships(session, person.id):
        audit.record(
            session, venue_id=venue.id, action=action, object_type="person", object_id=person.id
        )


def _new_codes(session: Session, person_id: str) -> list[str]:
    session.exec(delete(RecoveryCode).where(col(RecoveryCode.person_id) == person_id))
    codes = totp.new_recovery_codes()
    for code in codes:
        session.add(
            RecoveryCode(
                id=new_id("rec"), person_id=person_id, code_hash=totp.hash_recovery_code(code)
            )
        )
    return codes


def confirm_enrolment(session: Session, person_id: str, code: str, now: datetime) -> list[str]:
    """Turn TOTP on with a first code from the app; the ten recovery codes, shown once."""
    person = _person(session, person_id)
    if person.totp_secret is not None:
        raise Conflict("Two-factor authentication is on already.", code="mfa_enabled")
    secret = person.totp_pending_secret
    step = totp.accepted_step(secret, code, now, None) if secret else None
    if secret is None or step is None:
        raise ValidationFailed(
            "The code is wrong.", code="code_wrong", fields={"code": "wrong code"}
        )
    person.totp_secret, person.totp_pending_secret, person.totp_last_step = secret, None, step
    person.updated_at = now
    session.add(person)
    _record(session, person, "mfa.enabled")
    return _new_codes(session, person.id)


def disable(
    session: Session, settings: Settings, person_id: str, password: str, now: datetime
) -> None:
    """Turn TOTP off, with the password; refused while a venue needs it of this admin."""
    person = _person(session, person_id)
    if not passwords.verify(person.password_hash, password):
        raise ValidationFailed(
            "The password is wrong.", code="password_wrong", fields={"password": "wrong password"}
        )
    # A platform admin always logs in with a second factor (streamsvc/platform).
    if is_platform_admin(session, person.id) or any(
        m.role == "admin" and mfa_required(v, settings) for m, v in memberships(session, person.id)
    ):
        raise Conflict(
            "A venue you are admin of requires two-factor authentication.", code="mfa_required"
        )
    person.totp_secret = person.totp_pending_secret = None
    person.totp_last_step = None
    person.updated_at = now
    session.add(person)
    session.exec(delete(RecoveryCode).where(col(RecoveryCode.person_id) == person.id))
    _record(session, person, "mfa.disabled")


def regenerate_recovery_codes(session: Session, person_id: str) -> list[str]:
    person = _person(session, person_id)
    if person.totp_secret is None:
        raise Conflict("Turn on two-factor authentication first.", code="mfa_disabled")
    _record(session, person, "recovery_codes.regenerated")
    return _new_codes(session, person.id)


def unused_recovery_codes(session: Session, person_id: str) -> int:
    rows = session.exec(
        select(RecoveryCode.id).where(
            RecoveryCode.person_id == person_id, col(RecoveryCode.used_at).is_(None)
        )
    )
    return len(rows.all())


def log_out_everywhere(session: Session, person_id: str, now: datetime) -> int:
    return sessions.end_all(session, person_id, now)
