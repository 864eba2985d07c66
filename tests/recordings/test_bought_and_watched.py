"""A recording from the page to the player: a rental bought and paid plays its own
recording, and its refund stops the viewer at once (the access's status reaches viewing
as a ticket's does, through the authorize cache as production runs it); a free CC BY
recording plays without any payment."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from tests.factories import ok
from tests.harness import Infrastructure
from tests.recordings.test_buying import _accesses, _buy, _order_id, _pay, _shop
from tests.recordings.test_viewing import authorize, redeem
from tests.viewing.conftest import PRODUCTION_AUTHORIZE_CACHE_SECONDS


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    return infra.settings(
        viewing_authorize_cache_seconds=PRODUCTION_AUTHORIZE_CACHE_SECONDS,
        recording_paid_sales=True,
    )


def _segment(started: dict[str, Any], recording_id: str) -> str:
    """A segment of the playlist the redemption named, as the player asks for it."""
    url = str(started["playback"]["url"])
    assert f"/vod/{recording_id}/" in url, started
    return "/vod/" + url.split("/vod/", 1)[1].rsplit("/", 1)[0] + "/seg_00001.ts"


def test_a_paid_rental_plays_and_its_refund_stops_the_viewer_at_once(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    venue, recording = _shop(client)
    order_id = _order_id(_buy(client, recording["id"], "rental"), "checkout")
    _pay(client, database, clock, order_id)
    [access] = _accesses(database, order_id)
    started = ok(redeem(client, access.code), 201)
    segment = _segment(started, recording["id"])
    assert authorize(client, started["token"], segment).status_code == 204
    assert authorize(client, started["token"], segment).status_code == 204  # remembered

    refund = client.post(f"/v1/orders/{order_id}/refunds", json={"reason": "asked"},
                         headers=venue.headers)  # fmt: skip
    assert refund.status_code == 202, refund.text
    # The very next request of the player is refused: nothing waits for a token to expire.
    refused = authorize(client, started["token"], segment)
    assert refused.status_code == 403, refused.text
    again = redeem(client, access.code, device="phone")
    assert again.status_code == 403 and again.json()["error"]["code"] == "access_revoked"


def test_a_free_cc_by_recording_plays_without_payment(
    client: TestClient, database: Database
) -> None:
    _, recording = _shop(client, free=True, licence="cc-by-4.0")
    page = client.get(f"/recordings/{recording['id']}", headers={"Accept-Language": "en"}).text
    assert 'href="https://creativecommons.org/licenses/by/4.0/"' in page
    order_id = _order_id(_buy(client, recording["id"], "free"), "orders")
    [access] = _accesses(database, order_id)
    started = ok(redeem(client, access.code), 201)
    segment = _segment(started, recording["id"])
    assert authorize(client, started["token"], segment).status_code == 204
