"""The holder's pass page: the mail link's code handed over once for a cookie, the
covered events with a Claim button each, and the claimed ticket's Watch link."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.passes import codes
from tests.passes.season import make_season


def _csrf(page: str) -> str:
    found = re.search(r'data-csrf="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert found, "the page carries a CSRF token"
    return found.group(1)


def test_the_pass_page_claims_and_watches(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    season = make_season(client, database, settings, clock, concerts=2, seats=1)
    holder = season.buy_pass()
    holding_id = holder["holding_id"]
    code = codes.code_for(settings, holding_id)
    page = f"/passes/{holding_id}"

    first = client.get(page)
    assert first.status_code == 200
    assert "code-handover" in first.text and code not in first.text
    wrong = client.post(f"{page}/code", json={"code": "not-the-code"},
                        headers={"X-CSRF-Token": _csrf(first.text)})  # fmt: skip
    assert wrong.status_code == 404
    handed = client.post(f"{page}/code", json={"code": code},
                         headers={"X-CSRF-Token": _csrf(first.text)})  # fmt: skip
    assert handed.status_code == 204
    assert "httponly" in handed.headers["set-cookie"].lower()

    shown = client.get(page)
    assert shown.status_code == 200
    for concert in season.concerts:
        assert concert.event["title"] in shown.text
    assert shown.text.count(">Claim<") == 2
    event_id = season.concerts[0].event["id"]
    claimed = client.post(f"{page}/claim", data={"csrf_token": _csrf(shown.text),
                                                  "event_id": event_id},
                          follow_redirects=False)  # fmt: skip
    assert claimed.status_code == 303
    after = client.get(page)
    watch = re.search(r'href="/watch/(tkt_[a-z0-9]+)#code=', after.text)
    assert watch is not None
    assert after.text.count(">Claim<") == 1

    # Another holder finds the only seat taken: told so in words, beside the events.
    other = TestClient(client.app, raise_server_exceptions=False)
    second = season.buy_pass()
    other_page = f"/passes/{second['holding_id']}"
    token = _csrf(other.get(other_page).text)
    other.post(f"{other_page}/code", json={"code": codes.code_for(settings, second["holding_id"])},
               headers={"X-CSRF-Token": token})  # fmt: skip
    refused = other.post(f"{other_page}/claim",
                         data={"csrf_token": _csrf(other.get(other_page).text),
                               "event_id": event_id})  # fmt: skip
    assert refused.status_code == 409
    assert "That event is sold out." in refused.text
    # A claim without the CSRF token changes nothing.
    forged = client.post(f"{page}/claim", data={"event_id": season.concerts[1].event["id"]})
    assert forged.status_code == 403
