"""One meaning of the replay window: a tier's rewatch hours, within the event's replay
window. Access enforces it and the public catalogue publishes it, so the catalogue
never promises a replay no ticket gives, and no ticket plays past the event's window."""

from __future__ import annotations

from datetime import datetime, timedelta

from starlette.testclient import TestClient

from streamsvc.kit.clock import FixedClock
from tests.factories import make_event, make_tier, make_venue, ok, put_split_rule
from tests.viewing.conftest import Show


def _catalogue_entry(client: TestClient, event_id: str) -> dict[str, object]:
    listing: dict[str, object] = ok(client.get(f"/v1/public/events/{event_id}"))
    return listing


def test_a_tier_plays_no_longer_than_the_event_keeps_its_replay(show: Show) -> None:
    """The HD tier grants 24 hours of rewatch; with the event's replay cut to 6 hours,
    its tickets stop at 6 hours, and the catalogue says 6."""
    ok(show.client.patch(f"/v1/events/{show.event['id']}", json={"replay_hours": 6},
                         headers=show.venue.headers))  # fmt: skip
    _, [code] = show.paid_tickets("hd")
    ends = datetime.fromisoformat(show.event["ends_at"])
    show.clock.at = ends + timedelta(hours=5, minutes=59)
    assert show.redeem(code, "tv").status_code == 201
    show.clock.at = ends + timedelta(hours=6)
    late = show.redeem(code, "phone")
    assert late.status_code == 403 and late.json()["error"]["code"] == "outside_window"
    listing = _catalogue_entry(show.client, show.event["id"])
    assert listing["replay_hours"] == 6
    hd = next(t for t in listing["tiers"] if t["id"] == show.tiers["hd"]["id"])  # type: ignore[attr-defined]
    assert hd["access"]["rewatch_hours"] == 6


def test_the_catalogue_promises_the_replay_the_tiers_grant(
    client: TestClient, clock: FixedClock
) -> None:
    """An event whose replay window is 48 hours but whose tiers grant none (live only):
    the catalogue lists no replay, for the event and for each tier."""
    venue = make_venue(client)
    event = make_event(client, venue, clock.now(), replay_hours=48)
    make_tier(client, venue, event["id"], access={"quality": "hd", "rewatch_hours": 0})
    make_tier(client, venue, event["id"], name="SD", access={"quality": "sd", "rewatch_hours": 12})
    put_split_rule(client, venue, event["id"])
    ok(client.post(f"/v1/events/{event['id']}/publish", headers=venue.headers))
    listing = _catalogue_entry(client, event["id"])
    assert listing["replay_hours"] == 12  # the SD tier's 12 hours, not the event's 48
    assert sorted(t["access"]["rewatch_hours"] for t in listing["tiers"]) == [0, 12]  # type: ignore[attr-defined]
