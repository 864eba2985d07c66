"""The watch page's own endpoints (/watch/{ticket_id}/...): the ticket code handed over
once in a body and kept in an HttpOnly cookie scoped to the ticket's page; redeeming,
renewing and ending through the same use cases as the JSON API; errors as codes the
page turns into words. The player itself is tested in tests/browser/test_watch.py."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from config.settings import Settings
from tests.factories import ok
from tests.viewing.conftest import Show

JSON = {"Accept": "application/json"}


def _ticket(show: Show, tier: str = "hd") -> tuple[dict[str, Any], str, str]:
    order, [code] = show.paid_tickets(tier)
    view = ok(show.client.get(f"/v1/orders/{order['id']}", headers=show.venue.headers))
    return order, view["tickets"][0]["id"], code


def _csrf(show: Show, ticket_id: str) -> dict[str, str]:
    page = show.client.get(f"/watch/{ticket_id}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    found = re.search(r'data-csrf="([^"]+)"', page.text)
    assert found is not None
    return {**JSON, "X-CSRF-Token": found[1]}


def _doors_open(show: Show) -> None:
    show.clock.at = datetime.fromisoformat(show.event["starts_at"]) - timedelta(minutes=30)


def _open(show: Show, ticket_id: str, code: str) -> dict[str, str]:
    headers = _csrf(show, ticket_id)
    handed = show.client.post(f"/watch/{ticket_id}/access", json={"code": code}, headers=headers)
    assert handed.status_code == 204, handed.text
    return headers


def test_the_code_becomes_a_cookie_of_the_ticket_page(show: Show) -> None:
    _, ticket_id, code = _ticket(show)
    headers = _csrf(show, ticket_id)
    page = show.client.get(f"/watch/{ticket_id}")
    assert "open the Watch link" in page.text and show.event["title"] not in page.text
    assert code not in page.text
    # Without the CSRF header, or with another ticket's code: refused, no cookie.
    bare = show.client.post(f"/watch/{ticket_id}/access", json={"code": code}, headers=JSON)
    assert bare.status_code == 403 and "set-cookie" not in bare.headers
    _, other_id, other_code = _ticket(show)
    wrong = show.client.post(f"/watch/{ticket_id}/access", json={"code": other_code},
                             headers=headers)  # fmt: skip
    assert wrong.status_code == 404 and "set-cookie" not in wrong.headers
    handed = show.client.post(f"/watch/{ticket_id}/access", json={"code": code}, headers=headers)
    assert handed.status_code == 204
    cookie = handed.headers["set-cookie"]
    assert cookie.startswith(f"watch_code={code};")
    assert f"Path=/watch/{ticket_id}" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    # The page now knows the ticket: the event, its start, and a countdown before doors.
    page = show.client.get(f"/watch/{ticket_id}")
    assert show.event["title"] in page.text and 'data-phase="before"' in page.text
    assert code not in page.text
    # The cookie is the ticket page's alone: another ticket's page does not read it.
    assert 'data-phase="no_code"' in show.client.get(f"/watch/{other_id}").text


def test_session_heartbeat_and_end_through_the_page(show: Show, settings: Settings) -> None:
    _, ticket_id, code = _ticket(show)
    headers = _open(show, ticket_id, code)
    before = show.client.post(f"/watch/{ticket_id}/session", json={"device_id": "tv"},
                              headers=headers)  # fmt: skip
    assert before.status_code == 403 and before.json()["error"]["code"] == "outside_window"
    _doors_open(show)
    page = show.client.get(f"/watch/{ticket_id}")
    assert 'data-phase="open"' in page.text
    # The stream comes from the event's playback origin: the page may fetch and play it.
    policy = dict(
        part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";")
    )
    assert "https://origin.example.org" in policy["connect-src"].split()
    assert "https://origin.example.org" in policy["media-src"].split()
    started = show.client.post(f"/watch/{ticket_id}/session", json={"device_id": "tv"},
                               headers={**headers, "CF-IPCountry": "NL"})  # fmt: skip
    assert started.status_code == 201, started.text
    body = started.json()
    live = f"https://origin.example.org/live/{show.event['id']}"
    assert body["playlist"] == f"{live}/index.m3u8"
    assert body["renditions"] == {"sd": f"{live}/sd/index.m3u8", "hd": f"{live}/hd/index.m3u8"}
    assert body["qualities"] == ["sd", "hd"]
    assert show.authorize(body["token"]).status_code == 204
    show.clock.advance(seconds=settings.viewing_token_ttl_seconds / 2)
    beat = show.client.post(f"/watch/{ticket_id}/heartbeat",
                            headers={**JSON, "X-Viewing-Token": body["token"]})  # fmt: skip
    assert beat.status_code == 200, beat.text
    token = beat.json()["token"]
    assert token != body["token"] and show.authorize(token).status_code == 204
    # A token of this ticket only works on this ticket's page.
    _, other_id, _ = _ticket(show)
    foreign = show.client.post(f"/watch/{other_id}/heartbeat",
                               headers={**JSON, "X-Viewing-Token": token})  # fmt: skip
    assert foreign.status_code == 404
    end = show.client.post(f"/watch/{ticket_id}/end", headers={**JSON, "X-Viewing-Token": token})
    assert end.status_code == 204
    assert show.authorize(token).status_code == 401


def test_errors_are_codes_the_page_can_explain(show: Show) -> None:
    _, ticket_id, code = _ticket(show, "swap")  # one device, the newest wins
    _doors_open(show)
    headers = {**_open(show, ticket_id, code), "CF-IPCountry": "NL"}
    url = f"/watch/{ticket_id}/session"
    first = ok(show.client.post(url, json={"device_id": "tv"}, headers=headers), 201)
    ok(show.client.post(url, json={"device_id": "phone"}, headers=headers), 201)
    replaced = show.client.post(f"/watch/{ticket_id}/heartbeat",
                                headers={**JSON, "X-Viewing-Token": first["token"]})  # fmt: skip
    assert replaced.status_code == 403
    assert replaced.json()["error"]["code"] == "session_replaced"
    abroad = show.client.post(
        url, json={"device_id": "tv"}, headers={**headers, "CF-IPCountry": "DE"}
    )
    assert abroad.json()["error"]["code"] == "country_not_allowed"
    # Without the cookie (another browser): the page asks for the link again.
    show.client.cookies.delete("watch_code", path=f"/watch/{ticket_id}")
    lost = show.client.post(url, json={"device_id": "tv"}, headers=headers)
    assert lost.status_code == 404 and lost.json()["error"]["code"] == "no_ticket_code"


def test_device_limit_and_access_ended(show: Show) -> None:
    _, ticket_id, code = _ticket(show, "hd")  # two devices, refuse
    _doors_open(show)
    headers = {**_open(show, ticket_id, code), "CF-IPCountry": "NL"}
    url = f"/watch/{ticket_id}/session"
    for device in ("tv", "phone"):
        ok(show.client.post(url, json={"device_id": device}, headers=headers), 201)
    third = show.client.post(url, json={"device_id": "laptop"}, headers=headers)
    assert third.status_code == 403
    assert third.json()["error"] == {
        "code": "device_limit", "max_devices": 2,
        "message": "This ticket already plays on as many devices as its tier allows.",
    }  # fmt: skip
    ok(show.client.post(f"/v1/tickets/{ticket_id}/revoke", headers=show.venue.headers))
    ended = show.client.post(url, json={"device_id": "tv"}, headers=headers)
    assert ended.status_code == 403 and ended.json()["error"]["code"] == "revoked"
    assert 'data-phase="ended"' in show.client.get(f"/watch/{ticket_id}").text
