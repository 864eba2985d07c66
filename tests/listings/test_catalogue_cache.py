"""The catalogue pages under an on-sale rush: served from a per-node cache that a
catalogue write invalidates on every node at once, and that time bounds for what no
write announces (seats sold, a start time passed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event as sa_event
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.kit.clock import FixedClock
from tests.conftest import RecordingQueue
from tests.factories import VenueHandle, buy, make_tier, make_venue, ok, published_event

HTML = {"Accept": "text/html", "Accept-Language": "en"}


@contextmanager
def counting_queries(client: TestClient) -> Iterator[list[str]]:
    engine = client.app.state.resources.database.engine  # type: ignore[attr-defined]
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)


def _event_with_tier(client: TestClient, clock: FixedClock) -> tuple[VenueHandle, Any, Any]:
    venue = make_venue(client, name="Muziekgebouw")
    event = published_event(client, venue, clock.now(), title="Winterreise")
    tier = make_tier(client, venue, event["id"], name="Two seats", capacity=2, price_amount=1500)
    return venue, event, tier


def test_repeated_views_cost_no_database_query(client: TestClient, clock: FixedClock) -> None:
    _, event, _ = _event_with_tier(client, clock)
    pages = ["/", f"/events/{event['id']}"]
    for url in pages:  # the first view of each loads it
        assert client.get(url, headers=HTML).status_code == 200
    with counting_queries(client) as statements:
        for _ in range(20):
            for url in pages:
                page = client.get(url, headers=HTML)
                assert page.status_code == 200 and "Winterreise" in page.text
    assert statements == []


def test_a_catalogue_write_shows_at_once(client: TestClient, clock: FixedClock) -> None:
    venue, event, tier = _event_with_tier(client, clock)
    assert "€15.00" in client.get(f"/events/{event['id']}", headers=HTML).text
    ok(client.patch(f"/v1/tiers/{tier['id']}", json={"price_amount": 1750}, headers=venue.headers))
    page = client.get(f"/events/{event['id']}", headers=HTML).text
    assert "€17.50" in page and "€15.00" not in page


def test_seats_sold_show_within_the_cache_lifetime(
    client: TestClient, clock: FixedClock, settings: Settings
) -> None:
    _, event, tier = _event_with_tier(client, clock)
    url = f"/events/{event['id']}"
    assert "Sold out" not in client.get(url, headers=HTML).text
    buy(client, event["id"], tier["id"], quantity=2)
    # A sale is not a catalogue write (a rush must not empty the cache at every
    # sale): the page may say so late, but no later than the cache's lifetime.
    clock.advance(seconds=settings.catalogue_cache_seconds)
    assert "Sold out" in client.get(url, headers=HTML).text


def test_a_write_on_one_node_reaches_the_pages_of_another(
    client: TestClient, clock: FixedClock, settings: Settings, queue: RecordingQueue
) -> None:
    venue, event, tier = _event_with_tier(client, clock)
    url = f"/events/{event['id']}"
    with TestClient(create_app(settings, clock, queue=queue)) as other_node:
        assert "€15.00" in other_node.get(url, headers=HTML).text
        ok(client.patch(f"/v1/tiers/{tier['id']}", json={"name": "Balcony"},
                        headers=venue.headers))  # fmt: skip
        assert "Balcony" in other_node.get(url, headers=HTML).text


def test_without_redis_the_pages_still_answer_from_the_database(
    settings: Settings, clock: FixedClock, queue: RecordingQueue, client: TestClient
) -> None:
    _, event, _ = _event_with_tier(client, clock)
    unreachable = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(unreachable, clock, queue=queue)) as cut_off:
        page = cut_off.get(f"/events/{event['id']}", headers=HTML)
    assert page.status_code == 200 and "Winterreise" in page.text
