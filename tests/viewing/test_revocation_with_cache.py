"""A refund, a dispute, a cancellation or a staff revocation cuts a viewer off on the very
next authorize, and a device dropped for a newer one too: with the authorize cache on,
as production runs it.

Authorize answers an active session from memory for `viewing_authorize_cache_seconds`;
what makes it forget is a ticket id on the change channel (published with every
ticket status mirrored into Redis, and by the redemption that replaces a device). Each
test has the viewer's session remembered first, then waits until the API's listener
has heard of the change (deterministically: the remembered entry goes only when a
message arrives), then asks once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.kit.clock import FixedClock
from streamsvc.orders.models import Ticket
from tests.conftest import RecordingQueue
from tests.factories import ok
from tests.harness import Infrastructure
from tests.orders import scenarios as s
from tests.viewing.conftest import (
    PRODUCTION_AUTHORIZE_CACHE_SECONDS,
    Show,
    remembered,
    store_of,
    wait_until_heard,
    wait_until_listening,
)


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    assert PRODUCTION_AUTHORIZE_CACHE_SECONDS > 0
    return infra.settings(viewing_authorize_cache_seconds=PRODUCTION_AUTHORIZE_CACHE_SECONDS)


@pytest.fixture
def client(settings: Settings, clock: FixedClock, queue: RecordingQueue) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock, queue=queue), raise_server_exceptions=False) as c:
        wait_until_listening(store_of(c), settings.require("redis_url"))
        yield c


def _doors_open(show: Show) -> None:
    show.clock.at = datetime.fromisoformat(show.event["starts_at"]) - timedelta(minutes=30)


def _ticket_id(show: Show, code: str) -> str:
    with show.database.unit_of_work() as uow:
        return uow.session.exec(select(Ticket.id).where(Ticket.code == code)).one()


def _watching(show: Show, code: str, device: str = "tv") -> dict[str, Any]:
    """A viewer playing, whose session authorize now answers from memory."""
    started = show.redeem(code, device)
    assert started.status_code == 201, started.text
    session: dict[str, Any] = started.json()
    ticket_id = _ticket_id(show, code)
    deadline = time.monotonic() + 3
    # A message heard mid-read (any ticket's) keeps that read from being remembered.
    while not remembered(store_of(show.client), ticket_id):
        assert time.monotonic() < deadline, "authorize never remembered the session"
        assert show.authorize(session["token"]).status_code == 204
    assert show.authorize(session["token"]).status_code == 204
    return session


def _refund_webhook(show: Show, order: dict[str, Any]) -> None:
    s.deliver(show.client, s.charge_refunded(order, [("re_cache", order["total_amount"])]))
    show.drain()


def _staff_refund(show: Show, order: dict[str, Any]) -> None:
    url = f"/v1/orders/{order['id']}/refunds"
    ok(show.client.post(url, json={"reason": "changed plans"}, headers=show.venue.headers), 202)


def _dispute_opened(show: Show, order: dict[str, Any]) -> None:
    s.deliver(show.client, s.dispute(order, "dp_cache", "created", "needs_response"))
    show.drain()


def _dispute_lost(show: Show, order: dict[str, Any]) -> None:
    _dispute_opened(show, order)
    s.deliver(show.client, s.dispute(order, "dp_cache", "closed", "lost"))
    show.drain()


def _event_cancelled(show: Show, order: dict[str, Any]) -> None:
    url = f"/v1/events/{show.event['id']}/cancel"
    # The request alone cuts watching viewers off; the job's batches come later.
    ok(show.client.post(url, headers=show.venue.headers), 202)


def _staff_revoke(show: Show, order: dict[str, Any]) -> None:
    view = ok(show.client.get(f"/v1/orders/{order['id']}", headers=show.venue.headers))
    [ticket_id] = [_ticket_id(show, t["code"]) for t in view["tickets"]]
    ok(show.client.post(f"/v1/tickets/{ticket_id}/revoke", headers=show.venue.headers))


REVOCATIONS: dict[str, tuple[Callable[[Show, dict[str, Any]], None], str]] = {
    "refund by webhook": (_refund_webhook, "revoked"),
    "refund by staff": (_staff_refund, "revoked"),
    "dispute opened": (_dispute_opened, "suspended"),
    "dispute lost": (_dispute_lost, "revoked"),
    "event cancelled": (_event_cancelled, "revoked"),
    "revoked by staff": (_staff_revoke, "revoked"),
}


@pytest.mark.parametrize("how", list(REVOCATIONS))
def test_a_watching_viewer_is_cut_off_on_the_next_authorize(show: Show, how: str) -> None:
    revoke, state = REVOCATIONS[how]
    order, [code] = show.paid_tickets("hd")
    _doors_open(show)
    viewer = _watching(show, code)
    revoke(show, order)
    wait_until_heard(store_of(show.client), _ticket_id(show, code))
    refused = show.authorize(viewer["token"])
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "revoked"
    assert refused.json()["error"]["state"] == state
    assert show.heartbeat(viewer["token"]).status_code == 403
    assert show.redeem(code, "phone").status_code == 403


def test_a_won_dispute_lets_the_viewer_back_at_once(show: Show) -> None:
    order, [code] = show.paid_tickets("hd")
    _doors_open(show)
    viewer = _watching(show, code)
    _dispute_opened(show, order)
    wait_until_heard(store_of(show.client), _ticket_id(show, code))
    assert show.authorize(viewer["token"]).status_code == 403
    s.deliver(show.client, s.dispute(order, "dp_cache", "closed", "won"))
    show.drain()
    assert show.authorize(viewer["token"]).status_code == 204  # refusals are never remembered


def test_the_oldest_device_is_dropped_on_the_next_authorize(show: Show) -> None:
    _, [code] = show.paid_tickets("swap")  # one device, newest wins
    _doors_open(show)
    old = _watching(show, code, "tv")
    show.clock.advance(seconds=5)
    new = show.redeem(code, "phone")
    assert new.status_code == 201, new.text
    wait_until_heard(store_of(show.client), _ticket_id(show, code))
    replaced = show.authorize(old["token"])
    assert replaced.status_code == 403, replaced.text
    assert replaced.json()["error"]["code"] == "session_replaced"
    assert show.authorize(new.json()["token"]).status_code == 204
