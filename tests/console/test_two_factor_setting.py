"""The venue's two-factor requirement on the console's settings page: admins change it
(a checkbox), finance reads it, door and other roles cannot; only a change is stored,
so a venue that never chose keeps the installation's default (required in production),
and each change is in the audit log with what was in force before and after."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Environment, Settings
from streamsvc.audit.models import AuditEntry
from streamsvc.console.settings import set_mfa_requirement
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.staff.models import Person
from streamsvc.venues.models import Venue
from tests.audit.log import Log
from tests.staff.helpers import admin_signed_in, csrf, enrol_totp, member_signed_in, post

CHANGED = "venue.mfa_requirement_changed"


def _stored(database: Database, venue_id: str) -> bool | None:
    with database.unit_of_work() as uow:
        venue = uow.session.get(Venue, venue_id)
        assert venue is not None
        return venue.require_mfa_for_admins


def _save(client: TestClient, required: bool, **kwargs: Any) -> Any:
    fields = {"require_mfa": "on"} if required else {}
    return post(client, "/console/settings/two-factor", fields,
                token=csrf(client, "/console/settings"), **kwargs)  # fmt: skip


def test_an_admin_requires_two_factors_and_lifts_it_again_audited(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    page = client.get("/console/settings")
    assert page.status_code == 200
    assert 'id="require-mfa" name="require_mfa" type="checkbox" value="on" aria-describedby' in (
        page.text)  # fmt: skip
    assert "Not required by default on this test installation" in page.text
    log = Log(database)
    # Saved as shown (unticked, the default here): nothing changes, nothing is recorded.
    assert _save(client, False).headers["location"] == "/console/settings?done=mfa"
    assert _stored(database, admin.venue_id) is None and log.new() == []
    # Ticked: stored, audited; this admin, without TOTP, must now enrol first.
    assert _save(client, True).status_code == 303
    assert _stored(database, admin.venue_id) is True
    [entry] = log.new()
    with database.unit_of_work() as uow:
        person = uow.session.exec(select(Person).where(Person.email == admin.email)).one()
    assert (entry.action, entry.venue_id, entry.object_type, entry.object_id) == (
        CHANGED, admin.venue_id, "venue", admin.venue_id)  # fmt: skip
    assert entry.changes == {"require_mfa_for_admins": {"before": False, "after": True}}
    assert (entry.actor_kind, entry.actor_id) == ("staff", person.id)
    sent = client.get("/console/settings?done=mfa", follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/console/account"


def test_the_page_shows_the_setting_in_force_and_unticking_lifts_it(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    enrol_totp(client, clock.now())
    log = Log(database)
    assert _save(client, True).status_code == 303
    page = client.get("/console/settings?done=mfa")
    assert page.status_code == 200 and 'id="mfa-done"' in page.text
    assert page.text.count('id="require-mfa"') == 1
    assert 'name="require_mfa" type="checkbox" value="on" checked' in page.text
    assert "This venue has kept the default." not in page.text
    assert _save(client, False).status_code == 303
    assert _stored(database, admin.venue_id) is False
    assert 'type="checkbox" value="on" aria' in client.get("/console/settings").text
    # Saved again as shown: no change, nothing more in the log.
    assert _save(client, False).status_code == 303
    assert [e.changes for e in log.new()] == [
        {"require_mfa_for_admins": {"before": False, "after": True}},
        {"require_mfa_for_admins": {"before": True, "after": False}},
    ]


def test_finance_reads_the_setting_and_no_one_but_an_admin_changes_it(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    finance = member_signed_in(client, queue, database, settings, clock.now(),
                               "fred@example.org", "finance")  # fmt: skip
    door = member_signed_in(client, queue, database, settings, clock.now(),
                            "dora@example.org", "door", address="198.51.100.8")  # fmt: skip
    log = Log(database)
    read_only = finance.get("/console/settings")
    assert read_only.status_code == 200 and 'name="require_mfa"' not in read_only.text
    assert 'id="mfa-required">Admins need not use two-factor authentication.' in read_only.text
    assert _save(finance, True).status_code == 403
    assert door.get("/console/settings").status_code == 403
    token = csrf(door, "/console/account")
    refused = post(door, "/console/settings/two-factor", {"require_mfa": "on"}, token=token)
    assert refused.status_code == 403
    # An admin's write without the CSRF token, or from another site: refused too.
    no_token = client.post("/console/settings/two-factor", data={"require_mfa": "on"},
                           follow_redirects=False)  # fmt: skip
    assert no_token.status_code == 403
    elsewhere = _save(client, True, headers={"Origin": "https://evil.example"})
    assert elsewhere.status_code == 403
    assert _stored(database, admin.venue_id) is None and log.new() == []


def test_in_production_a_venue_on_the_default_requires_two_factors_until_it_says_no(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    production = settings.model_copy(update={"env": Environment.production})
    log = Log(database)
    with database.unit_of_work() as uow:
        assert set_mfa_requirement(uow.session, production, admin.venue_id, True) is True
    assert _stored(database, admin.venue_id) is None and log.new() == []  # the default holds
    with database.unit_of_work() as uow:
        assert set_mfa_requirement(uow.session, production, admin.venue_id, False) is False
    assert _stored(database, admin.venue_id) is False
    with database.unit_of_work() as uow:
        changes = [e.changes for e in uow.session.exec(
            select(AuditEntry).where(AuditEntry.action == CHANGED))]  # fmt: skip
    assert changes == [{"require_mfa_for_admins": {"before": True, "after": False}}]
