"""Members: invitations (72 h, once), roles, removal; a venue always keeps an admin."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import col, select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.audit.models import AuditEntry
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.staff.models import Membership, Person
from tests.staff.helpers import (
    accept,
    admin_signed_in,
    browser,
    csrf,
    invite,
    log_in,
    member_signed_in,
    post,
    send_mails,
)


def _membership(database: Database, email: str) -> Membership:
    with database.unit_of_work() as uow:
        person = uow.session.exec(select(Person).where(Person.email == email)).one()
        return uow.session.exec(select(Membership).where(Membership.person_id == person.id)).one()


def test_an_invitation_works_once_and_for_72_hours(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin_signed_in(client, queue, database, settings, clock.now())
    assert invite(client, "fred@example.org", "finance").status_code == 200
    [link] = send_mails(queue, database, settings, clock.now())
    assert link.startswith(f"{settings.public_url}/console/invitations/accept#token=")
    assert invite(client, "gina@example.org", "door").status_code == 200
    [late_link] = send_mails(queue, database, settings, clock.now())

    fred = browser(client, "198.51.100.30")
    assert accept(fred, link).status_code == 303
    used = accept(browser(client, "198.51.100.31"), link)
    assert used.status_code == 410 and "staff_session" not in used.cookies

    clock.advance(hours=72)
    expired = accept(browser(client, "198.51.100.32"), late_link)
    assert expired.status_code == 410
    assert log_in(browser(client, "198.51.100.33"), "gina@example.org").status_code == 401


def test_a_weak_password_is_refused_beside_its_field(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin_signed_in(client, queue, database, settings, clock.now())
    invite(client, "fred@example.org", "finance")
    [link] = send_mails(queue, database, settings, clock.now())
    fred = browser(client, "198.51.100.30")
    short = accept(fred, link, "short")
    assert short.status_code == 422 and 'id="error-password"' in short.text
    assert "at least 12 characters" in short.text
    common = accept(fred, link, "password1234")
    assert common.status_code == 422 and "most common" in common.text
    assert accept(fred, link).status_code == 303  # the link was not used up by those


def test_an_invitation_to_what_is_not_an_address_is_refused_beside_its_field(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin_signed_in(client, queue, database, settings, clock.now())
    refused = invite(client, "fred at example.org", "finance")
    assert refused.status_code == 422
    assert re.search(r'id="error-email"[^>]*>not an e-mail address<', refused.text)
    assert "Some fields need your attention." in refused.text
    assert 'value="fred at example.org"' in refused.text  # what was typed stays
    assert send_mails(queue, database, settings, clock.now()) == []


def test_an_invitation_to_what_is_not_an_address_is_refused_in_dutch(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin_signed_in(client, queue, database, settings, clock.now())
    client.cookies.set("lang", "nl")
    refused = invite(client, "fred at example.org", "finance")
    assert refused.status_code == 422
    assert re.search(r'id="error-email"[^>]*>geen e-mailadres<', refused.text)
    assert "Sommige velden vragen je aandacht." in refused.text


def test_the_last_admin_can_be_neither_removed_nor_demoted(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    mine = _membership(database, admin.email)
    token = csrf(client, "/console/members")
    demoted = post(client, f"/console/members/{mine.id}/role", {"role": "finance"}, token=token)
    assert demoted.status_code == 409 and "last admin" in demoted.text
    removed = post(client, f"/console/members/{mine.id}/remove", {}, token=token)
    assert removed.status_code == 409
    assert _membership(database, admin.email).role == "admin"
    # With a second admin, the first may step down.
    member_signed_in(client, queue, database, settings, clock.now(), "bea@example.org", "admin")
    assert post(client, f"/console/members/{mine.id}/role", {"role": "finance"},
                token=token).status_code == 200  # fmt: skip
    assert _membership(database, admin.email).role == "finance"


def test_a_removed_member_is_logged_out_at_once(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin_signed_in(client, queue, database, settings, clock.now())
    fred = member_signed_in(
        client, queue, database, settings, clock.now(), "fred@example.org", "finance"
    )
    assert fred.get("/console/account").status_code == 200
    # A finance member is not an admin: no members page for them.
    assert fred.get("/console/members").status_code == 403
    membership = _membership(database, "fred@example.org")
    answer = post(client, f"/console/members/{membership.id}/remove", {},
                  token=csrf(client, "/console/members"))  # fmt: skip
    assert answer.status_code == 200 and "fred@example.org" not in answer.text
    assert fred.get("/console/account", follow_redirects=False).status_code == 303
    assert log_in(fred, "fred@example.org").status_code == 401


def test_member_changes_are_in_the_audit_log_without_addresses(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin_signed_in(client, queue, database, settings, clock.now())
    member_signed_in(client, queue, database, settings, clock.now(), "fred@example.org", "door")
    membership = _membership(database, "fred@example.org")
    token = csrf(client, "/console/members")
    post(client, f"/console/members/{membership.id}/role", {"role": "finance"}, token=token)
    post(client, f"/console/members/{membership.id}/remove", {}, token=token)
    with database.unit_of_work() as uow:
        entries = uow.session.exec(select(AuditEntry).order_by(col(AuditEntry.created_at))).all()
    actions = [entry.action for entry in entries]
    for action in ("member.invited", "member.role_changed", "member.removed", "login.succeeded"):
        assert action in actions
    staff_entry = next(e for e in entries if e.action == "member.removed")
    assert staff_entry.actor_kind == "staff" and staff_entry.actor_id.startswith("per_")
    assert not any(re.search(r"@example\.org", str(entry.changes)) for entry in entries)
