"""The catalogue's pages without a browser: rendering, escaping, headers, languages,
CSRF, the order form and the hashed static files (tests/browser drives the flow)."""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

from streamsvc.kit.clock import FixedClock
from streamsvc.web.assets import StaticAssets
from tests.factories import (
    VenueHandle,
    buy,
    make_event,
    make_tier,
    make_venue,
    ok,
    published_event,
    put_split_rule,
)

HTML = {"Accept": "text/html"}


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden {name} in the form"
    return match.group(1)


def _supporters_event(client: TestClient, clock: FixedClock) -> tuple[VenueHandle, Any, Any]:
    """An event with a fixed-price tier of 2 seats and a pay-what-you-want tier."""
    venue = make_venue(client)
    event = make_event(client, venue, clock.now(), title="Requiem")
    fixed = make_tier(client, venue, event["id"], name="Seat", capacity=2, price_amount=1500)
    pwyw = make_tier(client, venue, event["id"], name="Supporter", price_amount=500,
                     pay_what_you_want={"min_amount": 500, "suggested_amount": 2500})  # fmt: skip
    put_split_rule(client, venue, event["id"])
    ok(client.post(f"/v1/events/{event['id']}/publish", headers=venue.headers))
    return venue, event, {"fixed": fixed, "pwyw": pwyw}


def test_catalogue_lists_events_in_the_buyers_language(
    client: TestClient, clock: FixedClock
) -> None:
    venue = make_venue(client, name="Concertgebouw")
    published_event(client, venue, clock.now(), title="Matthäus-Passion")
    page = client.get("/", headers={**HTML, "Accept-Language": "nl-NL,nl;q=0.9"})
    assert page.status_code == 200
    assert '<html lang="nl">' in page.text
    assert "Matthäus-Passion" in page.text and "Concertgebouw" in page.text
    # 11 December 2026 at 12:00 UTC is 13:00 in Amsterdam; the tier costs 19.50.
    assert "vrijdag 11 december 2026, 13:00" in page.text
    assert "€ 19,50" in page.text
    english = client.get("/", headers={**HTML, "Accept-Language": "en-GB"})
    assert "Friday, December 11, 2026, 1:00" in english.text and "€19.50" in english.text


def test_a_title_with_markup_is_escaped(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    event = published_event(client, venue, clock.now(), title="<script>alert(1)</script>")
    for path in ("/", f"/events/{event['id']}", f"/venues/{venue.id}"):
        text = client.get(path, headers=HTML).text
        assert "<script>alert(1)</script>" not in text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text, path
    # In the JSON-LD block too: `<` cannot close the script element.
    jsonld = client.get(f"/events/{event['id']}").text.split('type="application/ld+json">')[1]
    assert "\\u003cscript\\u003e" in jsonld.split("</script>")[0]


def test_pages_carry_a_strict_policy_and_security_headers(client: TestClient) -> None:
    response = client.get("/", headers=HTML)
    csp = response.headers["content-security-policy"]
    directives = dict(part.split(" ", 1) for part in csp.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'" and directives["form-action"] == "'self'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "<script>" not in response.text and " style=" not in response.text


def test_event_page_shows_what_is_offered(client: TestClient, clock: FixedClock) -> None:
    _, event, tiers = _supporters_event(client, clock)
    page = client.get(f"/events/{event['id']}", headers={**HTML, "Accept-Language": "nl"})
    assert page.status_code == 200
    text = page.text
    assert "Requiem" in text and "Verdi, live from Amsterdam." in text
    assert "Betalen" in text and "€ 15,00" in text and "€ 5,00" in text
    assert 'type="application/ld+json"' in text and "/v1/public/events.ics" in text
    assert f'name="quantity-{tiers["fixed"]["id"]}"' in text
    # The suggested amount is the pay-what-you-want input's value.
    assert re.search(rf'name="amount-{tiers["pwyw"]["id"]}"[^>]*\n?[^>]*value="25.00"', text)


def test_the_language_switch_is_remembered(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    event = published_event(client, venue, clock.now())
    path = f"/events/{event['id']}"
    switched = client.get(f"/language/fr?next={path}", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == path
    assert "lang=fr" in switched.headers["set-cookie"]
    # The cookie wins over Accept-Language.
    page = client.get(path, headers={**HTML, "Accept-Language": "nl"})
    assert '<html lang="fr">' in page.text and "19,50 €" in page.text
    for target in ("//evil.example", "https://evil.example/", "/\t/evil.example"):
        away = client.get("/language/nl", params={"next": target}, follow_redirects=False)
        assert away.headers["location"] == "/"
    assert client.get("/language/xx", follow_redirects=False).status_code == 404


def test_a_form_without_its_csrf_token_is_refused(client: TestClient, clock: FixedClock) -> None:
    venue = make_venue(client)
    event = published_event(client, venue, clock.now())
    path = f"/events/{event['id']}"
    form = {"email": "buyer@example.org", "country": "NL"}
    refused = client.post(path, data=form, headers=HTML)
    assert refused.status_code == 403
    assert "expired" in refused.text and "<html" in refused.text
    client.get(path)  # the browser now has the csrf cookie, but not its token
    assert client.post(path, data={**form, "csrf_token": "forged"}).status_code == 403


def test_buying_from_the_event_page_hands_the_token_over_in_a_cookie(
    client: TestClient, clock: FixedClock
) -> None:
    _, event, tiers = _supporters_event(client, clock)
    path = f"/events/{event['id']}"
    page = client.get(path).text
    form = {
        "csrf_token": _hidden(page, "csrf_token"), "attempt": _hidden(page, "attempt"),
        f"quantity-{tiers['fixed']['id']}": "2", f"quantity-{tiers['pwyw']['id']}": "1",
        f"amount-{tiers['pwyw']['id']}": "7,50", "email": "buyer@example.org", "country": "NL",
    }  # fmt: skip
    placed = client.post(path, data=form, follow_redirects=False)
    assert placed.status_code == 303, placed.text
    order_id = placed.headers["location"].removeprefix("/checkout/")
    cookies = placed.headers.get_list("set-cookie")
    for scope in (f"/checkout/{order_id}", f"/orders/{order_id}"):
        (cookie,) = [c for c in cookies if f"Path={scope}" in c]
        assert cookie.startswith(f"order_{order_id}=") and "HttpOnly" in cookie
        token = cookie.split(";")[0].split("=", 1)[1]
    order = ok(client.get(f"/v1/public/orders/{order_id}", headers={"X-Order-Token": token}))
    assert order["total_amount"] == 2 * 1500 + 750
    # Pressing Pay again (the same form) buys nothing more.
    again = client.post(path, data=form, follow_redirects=False)
    assert again.headers["location"] == f"/checkout/{order_id}"


def test_errors_are_shown_beside_their_fields(client: TestClient, clock: FixedClock) -> None:
    _, event, tiers = _supporters_event(client, clock)
    path = f"/events/{event['id']}"
    headers = {**HTML, "Accept-Language": "nl"}
    token = _hidden(client.get(path, headers=headers).text, "csrf_token")
    pwyw_field = f"amount-{tiers['pwyw']['id']}"
    form = {"csrf_token": token, f"quantity-{tiers['pwyw']['id']}": "1", pwyw_field: "3,00",
            "email": "buyer@example.org", "country": "NL"}  # fmt: skip
    low = client.post(path, data=form, headers=headers)
    assert low.status_code == 422
    error = re.search(rf'<p id="error-{pwyw_field}"[^>]*>([^<]*)</p>', low.text)
    assert error and "€ 5,00" in error.group(1)
    assert 'value="3,00"' in low.text and 'value="buyer@example.org"' in low.text
    # The last seats go to another buyer; the form now finds the tier sold out.
    buy(client, event["id"], tiers["fixed"]["id"], quantity=2)
    gone = client.post(path, headers=headers, data={
        "csrf_token": token, f"quantity-{tiers['fixed']['id']}": "1",
        "email": "buyer@example.org", "country": "NL"})  # fmt: skip
    assert gone.status_code in (409, 422)
    fixed_error = re.search(rf'<p id="error-quantity-{tiers["fixed"]["id"]}"[^>]*>([^<]+)</p>',
                            gone.text)  # fmt: skip
    assert fixed_error, gone.text
    assert f'name="quantity-{tiers["fixed"]["id"]}"' not in gone.text  # no longer choosable


def test_static_files_are_served_by_content_hash(client: TestClient) -> None:
    url = StaticAssets.scan().url("css/site.css")
    assert re.fullmatch(r"/static/css/site\.[0-9a-f]{12}\.css", url)
    served = client.get(url)
    assert served.status_code == 200
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert served.headers["content-type"].startswith("text/css")
    assert "skip-link" in served.text
    assert client.get("/static/css/site.000000000000.css").status_code == 404
    assert client.get("/static/css/site.css").status_code == 404
    assert client.get("/static/../rendering.py").status_code == 404
