"""The API keys page (a key shown once, revoked at once) and the venue switcher."""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from tests.factories import bearer
from tests.staff.helpers import accept, admin_signed_in, csrf, invite, post, send_mails


def test_an_api_key_is_shown_once_and_revoked_at_once(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin_signed_in(client, queue, database, settings, clock.now())
    created = post(client, "/console/api-keys", {"label": "Box office", "role": "finance"},
                   token=csrf(client, "/console/api-keys"))  # fmt: skip
    assert created.status_code == 200
    match = re.search(r'id="new-key">(ssk_[0-9a-z]+)<', created.text)
    assert match
    key = match.group(1)
    assert client.get("/v1/orders", headers=bearer(key)).status_code == 200
    listing = client.get("/console/api-keys")
    assert "Box office" in listing.text and key not in listing.text
    key_id = re.search(r'/console/api-keys/(key_[0-9a-z]+)/revoke" class="inline">\s*'
                       r'<input[^>]+>\s*<button[^>]+aria-label="Revoke Box office"', listing.text)  # fmt: skip
    assert key_id
    revoked = post(client, f"/console/api-keys/{key_id.group(1)}/revoke", {},
                   token=csrf(client, "/console/api-keys"))  # fmt: skip
    assert revoked.status_code == 200
    assert client.get("/v1/orders", headers=bearer(key)).status_code == 401


def test_a_person_of_two_venues_switches_between_them(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    # Another venue's admin invites the same person as door staff.
    from tests.staff.helpers import browser

    other = browser(client, "198.51.100.70")
    admin_signed_in(other, queue, database, settings, clock.now(), email="bob@example.org",
                    name="Het Muziekgebouw", admin_name="Bob")  # fmt: skip
    assert invite(other, admin.email, "door", "Ada").status_code == 200
    [link] = send_mails(queue, database, settings, clock.now())
    assert accept(browser(client, "198.51.100.71"), link).status_code in (303,)
    page = client.get("/console/account")
    assert 'id="switch-venue"' in page.text and "Het Muziekgebouw" in page.text
    venue_b = re.search(r'<option value="(ven_[0-9a-z]+)">Het Muziekgebouw', page.text)
    assert venue_b
    token = csrf(client, "/console/account")
    assert (
        post(client, "/console/venue", {"venue_id": venue_b.group(1)}, token=token).status_code
        == 303
    )
    # Door staff at B: no members page there.
    assert client.get("/console/members").status_code == 403
    assert (
        post(client, "/console/venue", {"venue_id": "ven_notmine"}, token=token).status_code == 404
    )
    assert (
        post(client, "/console/venue", {"venue_id": admin.venue_id}, token=token).status_code == 303
    )
    assert client.get("/console/members").status_code == 200
