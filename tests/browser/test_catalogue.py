"""A buyer in a browser: the catalogue, an event, its tiers, the order form, in two languages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from starlette.testclient import TestClient

from streamsvc.kit.clock import FixedClock
from tests.browser.conftest import PageFactory
from tests.factories import buy, make_event, make_tier, make_venue, ok, put_split_rule

pytestmark = pytest.mark.browser


def _festival(client: TestClient, clock: FixedClock) -> dict[str, Any]:
    """A published event with a fixed-price tier, a pay-what-you-want tier and a sold-out one."""
    venue = make_venue(client, name="Paradiso")
    event = make_event(client, venue, clock.now(), title="Winterfestival")
    tiers = {
        "stream": make_tier(client, venue, event["id"], name="Stream HD", price_amount=1500),
        "supporter": make_tier(client, venue, event["id"], name="Supporter", price_amount=500,
                               pay_what_you_want={"min_amount": 500, "suggested_amount": 2000}),
        "front": make_tier(client, venue, event["id"], name="Front row", capacity=1,
                           price_amount=4000, access={"quality": "hd", "in_venue": True}),
    }  # fmt: skip
    put_split_rule(client, venue, event["id"])
    ok(client.post(f"/v1/events/{event['id']}/publish", headers=venue.headers))
    buy(client, event["id"], tiers["front"]["id"])  # the one front-row seat is gone
    return {"event": event, "tiers": tiers}


def _tier(page: Page, name: str) -> Any:
    return page.locator(".tier", has=page.get_by_role("heading", name=name, exact=True))


def test_a_buyer_finds_an_event_and_orders_from_it(
    client: TestClient, clock: FixedClock, site: str, new_page: PageFactory,
    assert_accessible: Callable[..., None],
) -> None:  # fmt: skip
    shop = _festival(client, clock)
    page = new_page("en-GB")
    page.goto(f"{site}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Livestreams on sale")
    card = page.locator(".event-card", has_text="Winterfestival")
    expect(card).to_contain_text("Paradiso")
    expect(card).to_contain_text("From €5.00")
    assert_accessible(page)

    card.get_by_role("link", name="Winterfestival").click()
    expect(page).to_have_url(f"{site}/events/{shop['event']['id']}")
    expect(_tier(page, "Stream HD")).to_contain_text("€15.00")
    expect(_tier(page, "Supporter")).to_contain_text("Pay what you want, from €5.00")
    front = _tier(page, "Front row")
    expect(front).to_contain_text("Sold out")
    expect(front.get_by_role("combobox")).to_have_count(0)  # cannot be chosen
    assert_accessible(page)

    # Below the minimum: refused, with the reason beside the amount and the input kept.
    page.get_by_label("Number of tickets: Supporter").select_option("2")
    amount = page.get_by_label("Your price per ticket (EUR)")
    amount.fill("3.00")
    page.get_by_label("E-mail address").fill("buyer@example.org")
    page.get_by_role("button", name="Pay").click()
    amount = page.get_by_label("Your price per ticket (EUR)")
    expect(amount).to_have_value("3.00")
    expect(amount).to_have_attribute("aria-invalid", "true")
    supporter_id = shop["tiers"]["supporter"]["id"]
    expect(page.locator(f"#error-amount-{supporter_id}")).to_have_text(
        "The amount must be at least €5.00."
    )
    expect(page.get_by_label("E-mail address")).to_have_value("buyer@example.org")
    assert_accessible(page)

    amount.fill("7.50")
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(f"{site}/checkout/*")
    order_id = page.url.rsplit("/", 1)[1]
    cookies = {(c["name"], c["path"]): c for c in page.context.cookies()}
    token = cookies[(f"order_{order_id}", f"/checkout/{order_id}")]
    assert token["httpOnly"] and (f"order_{order_id}", f"/orders/{order_id}") in cookies
    placed = ok(client.get(f"/v1/public/orders/{order_id}",
                           headers={"X-Order-Token": token["value"]}))  # fmt: skip
    assert placed["total_amount"] == 2 * 750


def test_the_pages_speak_dutch_to_a_dutch_browser(
    client: TestClient, clock: FixedClock, site: str, new_page: PageFactory,
    assert_accessible: Callable[..., None],
) -> None:  # fmt: skip
    _festival(client, clock)
    page = new_page("nl-NL")
    page.goto(f"{site}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Livestreams te koop")
    expect(page.locator(".event-card")).to_contain_text("Vanaf € 5,00")
    assert_accessible(page)
    page.get_by_role("link", name="Winterfestival").click()
    expect(_tier(page, "Stream HD")).to_contain_text("€ 15,00")
    expect(_tier(page, "Front row")).to_contain_text("Uitverkocht")
    expect(page.get_by_role("button", name="Betalen")).to_be_visible()
    assert_accessible(page)
    # The switch remembers another language, on this page and the next.
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("button", name="Pay")).to_be_visible()
    page.goto(f"{site}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Livestreams on sale")
