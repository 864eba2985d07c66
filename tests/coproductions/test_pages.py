"""Co-productions in the console: the lead admin invites from the event page and sets a
60/40 rule with a guarantee; the partner admin accepts, reads the event and its part,
and consents to a later version; the partner reaches nothing else of the lead venue."""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from tests.factories import VenueHandle, bearer, make_event, make_tier, ok
from tests.staff.helpers import admin_signed_in, browser, csrf, post


def _split_form(lead: str, partner: str, lead_percent: str, guarantee: str) -> dict[str, str]:
    return {f"share.venue.{lead}": lead_percent,
            f"share.venue.{partner}": str(100 - int(lead_percent)),
            f"guarantee.venue.{partner}": guarantee, "platform_fee": "0"}  # fmt: skip


def test_invite_accept_split_with_a_guarantee_and_consent_in_the_console(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    other = browser(client, "198.51.100.60")
    partner = admin_signed_in(other, queue, database, settings, clock.now(),
                              email="pia@example.org", name="Stadsschouwburg",
                              admin_name="Pia Partner")  # fmt: skip
    lead = admin_signed_in(client, queue, database, settings, clock.now())
    lead_api = VenueHandle(lead.venue_id, lead.key, bearer(lead.key))
    event = make_event(client, lead_api, clock.now(), title="Samen gemaakt")
    make_tier(client, lead_api, event["id"])
    private = make_event(client, lead_api, clock.now(), title="Alleen van ons")
    page = f"/console/events/{event['id']}"

    # The lead invites; a wrong id is answered beside the field.
    token = csrf(client, page)
    wrong = post(client, f"{page}/co-producers", {"venue_id": "ven_nobody"}, token=token)
    assert wrong.status_code == 422 and 'id="error-co-producers-venue_id"' in wrong.text
    invited = post(client, f"{page}/co-producers", {"venue_id": partner.venue_id}, token=token)
    assert invited.status_code == 303
    assert "Stadsschouwburg" in client.get(page).text

    # The partner sees the invitation and accepts it.
    listed = other.get("/console/co-productions")
    assert listed.status_code == 200 and "Samen gemaakt" in listed.text
    co_id = ok(other.get("/v1/co-productions", headers=bearer(partner.key)))["data"][0]["id"]
    accepted = post(other, f"/console/co-productions/{co_id}/accept", {},
                    token=csrf(other, "/console/co-productions"))  # fmt: skip
    assert accepted.status_code == 303

    # The lead names the partner in the split rule, with its guarantee of €500.
    saved = post(client, f"{page}/split-rule",
                 _split_form(lead.venue_id, partner.venue_id, "60", "500,00"),
                 token=csrf(client, page))  # fmt: skip
    assert saved.status_code == 303, saved.text
    rule = ok(client.get(f"/v1/events/{event['id']}/split-rule", headers=lead_api.headers))
    assert rule["shares"][1] == {"party": {"type": "venue", "id": partner.venue_id},
                                 "bps": 4000, "guarantee_amount": 50_000}  # fmt: skip

    # The partner reads the event, the rule in force and its (empty) part.
    read = other.get(f"/console/co-productions/{co_id}")
    assert read.status_code == 200
    assert "Samen gemaakt" in read.text and 'id="rule-in-force"' in read.text
    assert "Consent to the split" not in read.text

    # A change waits for the partner's consent; the lead's page says so.
    post(client, f"{page}/split-rule", _split_form(lead.venue_id, partner.venue_id, "50", ""),
         token=csrf(client, page))  # fmt: skip
    assert 'id="split-waiting"' in client.get(page).text
    waiting = other.get(f"/console/co-productions/{co_id}")
    assert 'id="rule-waiting"' in waiting.text and "Consent to the split" in waiting.text
    consented = post(other, f"/console/co-productions/{co_id}/consent", {"version": "2"},
                     token=csrf(other, f"/console/co-productions/{co_id}"))  # fmt: skip
    assert consented.status_code == 303
    after = other.get(f"/console/co-productions/{co_id}?done=consented")
    assert 'id="consent-done"' in after.text and 'id="rule-waiting"' not in after.text
    assert 'id="split-waiting"' not in client.get(page).text
    again = post(other, f"/console/co-productions/{co_id}/consent", {"version": "2"},
                 token=csrf(other, f"/console/co-productions/{co_id}"))  # fmt: skip
    assert again.status_code == 409
    assert re.search(r'id="form-errors"><p>[^<]+</p>', again.text)

    # Nothing else of the lead venue: its other event, its event page, its finance page.
    for path in (f"/console/events/{private['id']}", page,
                 f"/console/finance/events/{event['id']}"):  # fmt: skip
        answer = other.get(path, follow_redirects=False)
        assert answer.status_code == 404, path
        assert "Alleen van ons" not in answer.text
    assert "Alleen van ons" not in other.get("/console/co-productions").text
