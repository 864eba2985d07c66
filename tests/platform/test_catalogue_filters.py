"""The public catalogue spans every venue, with filters: venue, city, dates (the
events' local dates) and attendance mode; the JSON catalogue answers a bad filter with
422 naming it, the page with words beside the field."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.console.settings import set_city
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.platform import service as platform
from tests.factories import VenueHandle, bearer, make_event, make_venue, ok, published_event
from tests.staff.helpers import admin_signed_in, csrf, post


def _ids(client: TestClient, query: str) -> set[str]:
    answer = ok(client.get(f"/v1/public/events?{query}"))
    return {event["id"] for event in answer["data"]}


def _catalogue(client: TestClient, database: Database, settings: Settings, clock: FixedClock,
               queue: Any) -> dict[str, Any]:  # fmt: skip
    """Amsterdam's opera (a hybrid and an online event, a draft) and Eindhoven's hall (an
    online event starting at 00:30 on 12 December in Amsterdam, 23:30 UTC the day before)."""
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    opera = VenueHandle(admin.venue_id, admin.key, bearer(admin.key))
    token = csrf(client, "/console/settings")
    saved = post(client, "/console/settings/city", {"city": "  Amsterdam "}, token=token)
    assert saved.headers["location"] == "/console/settings?done=city"
    hall = make_venue(client, name="Het Muziekgebouw")
    with database.unit_of_work() as uow:
        set_city(uow.session, hall.id, "Eindhoven")
    start = datetime(2026, 12, 11, 19, 0, tzinfo=UTC)
    late = datetime(2026, 12, 11, 23, 30, tzinfo=UTC)

    def at(venue: VenueHandle, when: datetime, **over: Any) -> Any:
        return published_event(client, venue, clock.now(), starts_at=when.isoformat(),
                               ends_at=(when + timedelta(hours=2)).isoformat(), **over)  # fmt: skip

    return {
        "opera": opera, "hall": hall,
        "traviata": at(opera, start, title="La Traviata")["id"],
        "tosca": at(opera, start + timedelta(days=10), title="Tosca online",
                    attendance_mode="online")["id"],
        "draft": make_event(client, opera, clock.now(), title="Draft opera")["id"],
        "night": at(hall, late, title="Nachtconcert", attendance_mode="online")["id"],
    }  # fmt: skip


def test_the_json_catalogue_filters_by_venue_city_dates_and_mode(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock, queue: Any
) -> None:
    c = _catalogue(client, database, settings, clock, queue)
    everything = {c["traviata"], c["tosca"], c["night"]}
    assert _ids(client, "") == everything
    assert _ids(client, f"venue={c['opera'].id}") == {c["traviata"], c["tosca"]}
    assert _ids(client, "city=amsterdam") == {c["traviata"], c["tosca"]}
    assert _ids(client, "city=Eindhoven") == {c["night"]}
    assert _ids(client, "city=Utrecht") == set()
    assert _ids(client, "mode=online") == {c["tosca"], c["night"]}
    assert _ids(client, "mode=hybrid") == {c["traviata"]}
    # Local dates: the night concert is on the 12th where it plays.
    assert _ids(client, "from=2026-12-11&to=2026-12-11") == {c["traviata"]}
    assert _ids(client, "from=2026-12-12&to=2026-12-12") == {c["night"]}
    assert _ids(client, "from=2026-12-15") == {c["tosca"]}
    assert _ids(client, "to=2026-12-12&mode=online&city=Eindhoven") == {c["night"]}
    listing = ok(client.get(f"/v1/public/events?venue={c['hall'].id}"))["data"][0]
    assert listing["venue"]["city"] == "Eindhoven"
    # Pages of a filtered list keep the filter.
    first = ok(client.get(f"/v1/public/events?venue={c['opera'].id}&limit=1"))
    assert first["next_cursor"]
    second = ok(client.get(f"/v1/public/events?venue={c['opera'].id}&limit=1"
                           f"&cursor={first['next_cursor']}"))  # fmt: skip
    assert {first["data"][0]["id"], second["data"][0]["id"]} == {c["traviata"], c["tosca"]}
    assert second["next_cursor"] is None
    # Bounded and validated: a bad filter is a 422 naming it.
    for query, field in (("mode=dance", "query.mode"), ("from=yesterday", "query.from"),
                         ("from=2026-12-20&to=2026-12-10", "query.to"),
                         ("from=2026-01-01&to=2030-01-01", "query.to"),
                         ("venue=%3Cscript%3E", "query.venue"), ("city=" + "x" * 101, "query.city"),
                         ("colour=red", "query.colour")):  # fmt: skip
        answer = client.get(f"/v1/public/events?{query}")
        assert answer.status_code == 422, (query, answer.text)
        assert field in answer.json()["error"]["fields"], (query, answer.json())


def test_the_catalogue_page_filters_and_says_what_is_wrong_beside_the_field(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock, queue: Any
) -> None:
    c = _catalogue(client, database, settings, clock, queue)
    page = client.get("/").text
    assert all(title in page for title in ("La Traviata", "Tosca online", "Nachtconcert"))
    assert "Draft opera" not in page
    assert '<option value="Amsterdam">' in page and '<option value="Eindhoven">' in page
    for label in ("filter-venue", "filter-city", "filter-from", "filter-to", "filter-mode"):
        assert f'<label for="{label}">' in page
    amsterdam = client.get("/?city=Amsterdam&mode=online").text
    assert "Tosca online" in amsterdam and "La Traviata" not in amsterdam
    assert "Nachtconcert" not in amsterdam
    assert '<option value="Amsterdam" selected>' in amsterdam
    dated = client.get("/?from=2026-12-12&to=2026-12-12").text
    assert "Nachtconcert" in dated and "La Traviata" not in dated
    none = client.get("/?city=Eindhoven&mode=hybrid")
    assert none.status_code == 200 and 'id="no-match"' in none.text
    mode = client.get("/?mode=dance&city=Amsterdam")
    assert mode.status_code == 422
    assert re.search(r'id="error-mode" class="field-error" role="alert">online, or in the venue',
                     mode.text)  # fmt: skip
    assert '<option value="Amsterdam" selected>' in mode.text
    wrong = client.get("/?from=2026-12-20&to=2026-12-10")
    assert wrong.status_code == 422
    assert re.search(r'id="error-to" class="field-error" role="alert">a date such as', wrong.text)
    assert 'aria-invalid="true"' in wrong.text and 'value="2026-12-20"' in wrong.text
    # The words are the page's: a Dutch visitor's page says them in Dutch (the catalogs).
    client.cookies.set("lang", "nl")
    dutch = client.get("/?mode=dance").text
    assert '<html lang="nl">' in dutch
    assert re.search(r'id="error-mode" class="field-error" role="alert">\w', dutch)
    client.cookies.delete("lang")
    # A suspended venue leaves the filter's choices with its events.
    with database.unit_of_work() as uow:
        platform.suspend(uow.session, c["hall"].id, clock.now())
    after = client.get("/").text
    assert "Nachtconcert" not in after and '<option value="Eindhoven">' not in after
    assert _ids(client, "city=Eindhoven") == set()
