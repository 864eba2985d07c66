"""Logging in to the console: the password step, then (when needed) the code step.

The answer to a failed login is the same whether or not the account exists, and it
takes as long (a missing hash is verified against a dummy one). Failures are slowed
down per account and address, per address, and, across all addresses, an account
past its allowance is "under attack": then every login of it goes on to the code step
whatever the password, and the code step says only "password or code wrong", so a
password is never confirmed without the second factor (throttle.py).

Every wrong password and every wrong code of an account that is a member somewhere is
an audit entry `login.failed` (the person by id, the reason; never the typed address),
in each of the person's venues' logs. A try at an address that is unknown, or of no
venue, is in none: there is no venue's log to put it in, and an e-mail address is never
stored in the log. A try refused for waiting (429) is not recorded one by one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from anyio import to_thread
from sqlmodel import Session, col, select

from config.settings import Settings
from streamsvc.audit import service as audit
from streamsvc.db import Database
from streamsvc.errors import ServiceError
from streamsvc.kit.context import Actor, actor_var
from streamsvc.staff import passwords, sessions, totp
from streamsvc.staff.console import is_platform_admin, memberships
from streamsvc.staff.models import Membership, Person, RecoveryCode
from streamsvc.staff.service import find_person
from streamsvc.staff.throttle import LoginThrottle, PendingLogin, PendingLogins

MAX_CODE_ATTEMPTS = 5


class LoginFailed(ServiceError):
    status, code = 401, "login_failed"


class VenueSuspended(ServiceError):
    """The right password of someone whose every venue is suspended (and who is no
    platform admin): said plainly, as the password was right."""

    status, code = 403, "venue_suspended"


class LoginExpired(ServiceError):
    """The code step without a live first step: start again."""

    status, code = 401, "login_expired"


@dataclass(frozen=True)
class Outcome:
    """A finished login (`session_token` for the cookie) or the code step to show
    (`pending_token` for its cookie)."""

    session_token: str | None = None
    pending_token: str | None = None
    next_path: str = "/console"


WRONG_PASSWORD, WRONG_CODE = "wrong_password", "wrong_code"


def _record(
    session: Session,
    person: Person,
    action: str,
    step: str,
    *,
    venue_id: str | None = None,
    reason: str | None = None,
) -> None:
    venues: list[str | None] = (
        [venue_id] if venue_id else [v.id for _, v in memberships(session, person.id)]
    )
    changes = {"step": step} if reason is None else {"step": step, "reason": reason}
    # A platform admin at no venue: the entry belongs to no venue's log.
    for venue in venues or [None]:
        audit.record(
            session,
            venue_id=venue,
            action=action,
            object_type="person",
            object_id=person.id,
            changes=changes,
        )


def start_session(
    session: Session, settings: Settings, person: Person, now: datetime, *, step: str
) -> str:
    """A session at the person's first venue, recorded as `login.succeeded` after `step`
    (password, code, or invitation: an accepted invitation signs its person in). A
    platform admin without a venue gets a session at none (streamsvc/platform)."""
    found = memberships(session, person.id)
    if not found and not is_platform_admin(session, person.id):
        raise VenueSuspended(_SUSPENDED)
    venue_id = found[0][1].id if found else None
    actor_var.set(Actor(kind="staff", id=person.id, label=person.display_name))
    token = sessions.start(session, settings, person.id, venue_id, now)
    _record(session, person, "login.succeeded", step, venue_id=venue_id)
    return token


class Logins:
    """The login use cases; built per request from the app's resources."""

    def __init__(
        self,
        database: Database,
        throttle: LoginThrottle,
        pending: PendingLogins,
        settings: Settings,
    ) -> None:
        self.database = database
        self.throttle = throttle
        self.pending = pending
        self.settings = settings

    async def password_step(
        self, email: str, password: str, address: str, now: datetime
    ) -> Outcome:
        email = email.strip().lower()
        # A try refused here (429) is neither checked nor audited: one entry per refused
        # try would let an attacker flood the audit log; its failures before the wait
        # are each recorded below.
        await self.throttle.check(email, address, now.timestamp())
        attacked = await self.throttle.under_attack(email)

        def verify() -> tuple[str, Outcome | None, PendingLogin | None]:
            with self.database.unit_of_work() as uow:
                person = find_person(uow.session, email)
                member = person is not None and (
                    bool(memberships(uow.session, person.id))
                    or is_platform_admin(uow.session, person.id)
                )
                right = passwords.verify(person.password_hash if person else None, password)
                ok = right and member
                assert person is not None or not ok
                if right and not member and not attacked and _suspended_only(uow.session, person):
                    return "suspended", None, None
                if ok and person is not None and person.totp_secret is None and not attacked:
                    return (
                        "in",
                        Outcome(
                            session_token=start_session(
                                uow.session, self.settings, person, now, step="password"
                            )
                        ),
                        None,
                    )
                if not ok and person is not None and member:
                    # Also while under attack, where the wrong password goes on to the
                    # code step all the same: the log says so, the answer does not.
                    _record(uow.session, person, "login.failed", "password",
                            reason=WRONG_PASSWORD)  # fmt: skip
                if ok or attacked:
                    # To the code step: a person with TOTP, or anyone while under attack
                    # (where only a correct password with a correct code will do).
                    pending = PendingLogin(
                        email=email, person_id=person.id if person else "", password_ok=ok
                    )
                    return ("code" if ok else "failed-silently"), None, pending
                return "failed", None, None

        result, outcome, pending = await to_thread.run_sync(verify)
        if result == "suspended":
            raise VenueSuspended(_SUSPENDED, fields={"email": "venue suspended"})
        if result in ("failed", "failed-silently"):
            await self.throttle.failed(email, address, now.timestamp())
        if result == "failed":
            raise LoginFailed(
                "The e-mail address or the password is wrong.",
                fields={"password": "wrong e-mail address or password"},
            )
        if outcome is not None:
            await self.throttle.succeeded(email, address)
            return outcome
        assert pending is not None
        token = secrets.token_urlsafe(32)
        await self.pending.put(token, pending)
        return Outcome(pending_token=token)

    async def code_step(self, token: str | None, code: str, address: str, now: datetime) -> Outcome:
        """Finish a login with a TOTP code or an unused recovery code."""
        pending = await self.pending.get(token)
        if pending is None or token is None:
            raise LoginExpired("The login took too long; start again.")
        # Refused for waiting (429): not audited one by one either (password_step).
        await self.throttle.check(pending.email, address, now.timestamp())

        def verify() -> str | None:
            with self.database.unit_of_work() as uow:
                person = (
                    uow.session.get(Person, pending.person_id, with_for_update=True)
                    if pending.person_id
                    else None
                )
                if person is None:
                    return None
                if (
                    pending.password_ok
                    and person.totp_secret
                    and _second_factor(uow.session, person, code, now)
                ):
                    return start_session(uow.session, self.settings, person, now, step="code")
                if pending.password_ok:
                    _record(uow.session, person, "login.failed", "code", reason=WRONG_CODE)
                # else: the wrong password was recorded at the password step; the codes
                # sent after it are not even checked, so they add nothing to the log.
                return None

        session_token = await to_thread.run_sync(verify)
        if session_token is None:
            await self.throttle.failed(pending.email, address, now.timestamp())
            pending.attempts += 1
            if pending.attempts >= MAX_CODE_ATTEMPTS:
                await self.pending.drop(token)
            else:
                await self.pending.put(token, pending)
            raise LoginFailed(
                "The password or the code is wrong.", fields={"code": "wrong password or code"}
            )
        await self.pending.drop(token)
        await self.throttle.succeeded(pending.email, address)
        return Outcome(session_token=session_token)


_SUSPENDED = "Your venue is suspended by the platform operator; ask them to resume it."


def _suspended_only(session: Session, person: Person | None) -> bool:
    """Whether the person is a member of venues, all of them suspended."""
    if person is None:
        return False
    return (
        session.exec(select(Membership.id).where(Membership.person_id == person.id)).first()
        is not None
    )


def _second_factor(session: Session, person: Person, code: str, now: datetime) -> bool:
    """A TOTP code for a step not used before, or an unused recovery code (used up)."""
    assert person.totp_secret is not None
    step = totp.accepted_step(person.totp_secret, code, now, person.totp_last_step)
    if step is not None:
        person.totp_last_step = step
        session.add(person)
        return True
    if len(code) > 40:
        return False
    recovery = session.exec(
        select(RecoveryCode)
        .where(
            RecoveryCode.person_id == person.id,
            RecoveryCode.code_hash == totp.hash_recovery_code(code),
            col(RecoveryCode.used_at).is_(None),
        )
        .with_for_update()
    ).first()
    if recovery is None:
        return False
    recovery.used_at = now
    session.add(recovery)
    audit.record(
        session,
        venue_id=None,
        action="recovery_code.used",
        object_type="person",
        object_id=person.id,
    )
    return True
