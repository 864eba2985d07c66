"""StripeGateway.recent_payouts: the account's payouts of a window, read from localstripe
(which knows no `created` filter) and from Stripe's own answer (which is asked for one)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from streamsvc.payments.gateway import PayoutReport
from streamsvc.payments.stripe_gateway import StripeGateway
from tests.payments.test_stripe_gateway import canned_stripe
from tests.stripe_helpers import TEST_SECRET_KEY, create_payout, stripe_object, update_payout

pytestmark = pytest.mark.stripe


@pytest.fixture
def stripe(localstripe: str) -> Iterator[StripeGateway]:
    gateway = StripeGateway(TEST_SECRET_KEY, api_base=localstripe)
    yield gateway
    gateway.close()


def test_recent_payouts_are_listed_as_stripe_reports_them(
    stripe: StripeGateway, localstripe: str
) -> None:
    pending = create_payout(localstripe, 4408)
    paid = create_payout(localstripe, 1250, status="paid")
    listed = {payout.id: payout for payout in stripe.recent_payouts(pending["created"])}
    assert listed[pending["id"]] == PayoutReport(
        id=pending["id"], status="pending", amount=4408, currency="eur", automatic=False,
        reconciliation_status=None, created=pending["created"],
        arrival_date=pending["arrival_date"],
    )  # fmt: skip
    assert (listed[paid["id"]].status, listed[paid["id"]].amount) == ("paid", 1250)
    assert all(payout.created >= pending["created"] for payout in listed.values())
    # Stripe moves a payout on: the list says what it is now.
    update_payout(localstripe, pending["id"], status="in_transit")
    [now] = [p for p in stripe.recent_payouts(pending["created"]) if p.id == pending["id"]]
    assert now.status == "in_transit"
    # Created before the window: not listed.
    later = max(pending["created"], paid["created"]) + 3600
    assert [p.id for p in stripe.recent_payouts(later) if p.id in listed] == []


def test_every_page_of_payouts_is_read(stripe: StripeGateway, localstripe: str) -> None:
    """More payouts than one page (100) holds: the listing follows `has_more`."""
    made = [create_payout(localstripe, 100 + i)["id"] for i in range(101)]
    listed = [payout.id for payout in stripe.recent_payouts(0)]
    assert set(made) <= set(listed)
    assert len(listed) == len(set(listed))


def test_stripe_is_asked_for_the_window_and_its_payout_objects_are_read() -> None:
    """Stripe filters by `created[gte]` itself (localstripe refuses the filter, so a
    canned Stripe answers with Stripe's example payout)."""
    payout = stripe_object("payout", id="po_canned", amount=4408, currency="eur",
                           created=1_780_000_100, arrival_date=1_780_200_000)  # fmt: skip
    page = {"object": "list", "url": "/v1/payouts", "has_more": False, "data": [payout]}
    with canned_stripe(200, page) as (gateway, server):
        listed = gateway.recent_payouts(1_780_000_000)
        request = server.received.get(timeout=5)
    assert request.method == "GET" and urlsplit(request.path).path == "/v1/payouts"
    query = parse_qs(urlsplit(request.path).query)
    assert (query["created[gte]"], query["limit"]) == (["1780000000"], ["100"])
    assert server.received.empty()  # one request: Stripe took the filter
    assert listed == [PayoutReport(
        id="po_canned", status="in_transit", amount=4408, currency="eur", automatic=True,
        reconciliation_status="completed", created=1_780_000_100, arrival_date=1_780_200_000,
    )]  # fmt: skip
