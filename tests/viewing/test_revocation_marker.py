"""The revocation marker in Redis lives exactly as long as a token or session of the
ticket could (token lifetime + clock-skew leeway + session idle time): shorter, and a
viewer revoked a moment ago could come back with a token still valid; it must expire
too, or revoked tickets would pile up in Redis for ever."""

from __future__ import annotations

import pytest
import redis
from sqlmodel import select

from config.settings import Settings
from streamsvc.orders.models import Ticket
from streamsvc.viewing import keys
from tests.harness import Infrastructure
from tests.orders import scenarios as s
from tests.viewing.conftest import Show

# Token lifetime, leeway and idle time set apart, so that a marker living any other
# sum of them (a sign turned, a term left out) shows.
LIFETIMES = {
    "viewing_token_ttl_seconds": 600,
    "viewing_clock_skew_seconds": 45,
    "viewing_session_idle_seconds": 1800,
}


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    return infra.settings(**LIFETIMES)


def test_a_refunded_ticket_is_marked_revoked_for_exactly_as_long_as_a_token_could_live(
    show: Show, settings: Settings, redis_client: redis.Redis
) -> None:
    assert all(getattr(settings, name) == value for name, value in LIFETIMES.items())
    order, [code] = show.paid_tickets("hd")
    with show.database.unit_of_work() as uow:
        ticket_id = uow.session.exec(select(Ticket.id).where(Ticket.code == code)).one()
    _, _, marker = keys.ticket_keys(ticket_id)
    assert redis_client.get(marker) is None  # a valid ticket carries no marker

    s.deliver(show.client, s.charge_refunded(order, [("re_marker", order["total_amount"])]))
    show.drain()  # the commit mirrors the revocation into Redis

    assert redis_client.get(marker) == b"revoked"
    lifetime_ms = sum(LIFETIMES.values()) * 1000
    # Redis counts the TTL down from the moment it was set: allow a few seconds of it.
    assert lifetime_ms - 5000 < redis_client.pttl(marker) <= lifetime_ms
