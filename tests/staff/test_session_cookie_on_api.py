"""The console's session cookie is worth nothing on the JSON API: `/v1` routes take a
venue API key only, so a signed-in browser (even one sending its CSRF token) gets 401."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from tests.factories import bearer
from tests.staff.helpers import admin_signed_in, browser, csrf


def test_a_console_session_cookie_with_its_csrf_token_gets_401_on_v1(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    session = client.cookies.get("staff_session", path="/console")
    token = csrf(client, "/console/account")  # also sets the browser's csrf cookie
    nonce = client.cookies.get("csrf")
    assert session and nonce
    assert client.get("/console/account").status_code == 200  # the session is live
    # The cookie is scoped to /console; sent to /v1 all the same (as a script might):
    caller = browser(client, "198.51.100.40")
    headers = {"Cookie": f"staff_session={session}; csrf={nonce}", "X-CSRF-Token": token}
    for method, path, body in (
        ("GET", "/v1/api-keys", None),
        ("POST", "/v1/api-keys", {"role": "finance", "label": "from a cookie"}),
        ("GET", "/v1/audit", None),
    ):
        answer = caller.request(method, path, json=body, headers=headers)
        assert answer.status_code == 401, (method, path, answer.text)
        assert answer.json()["error"]["code"] == "unauthenticated", answer.text
    # Nothing was made, and the venue's own key still works.
    keys = client.get("/v1/api-keys", headers=bearer(admin.key)).json()["data"]
    assert [k["label"] for k in keys] == ["first admin"]
