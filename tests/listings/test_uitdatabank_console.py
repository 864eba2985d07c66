"""The console's part of UiTdatabank: the event type on the event form, the push state
on the event page, "Push again" for admins, and the venue's UiTdatabank place."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.audit.models import AuditEntry
from streamsvc.catalog.listing_pushes import ListingPush
from streamsvc.catalog.models import Event
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.listings.uitdatabank.client import EntryApi
from streamsvc.listings.uitdatabank.push import Target, push_event
from streamsvc.venues.models import Venue
from tests.conftest import RecordingQueue
from tests.console.helpers import form_token
from tests.factories import VenueHandle, bearer, published_event
from tests.listings.uitdatabank_standin import StandIn, running_standin
from tests.staff.helpers import admin_signed_in, post

THEATRE = "0.55.0.0.0"
PLACE = "5cf42d51-3a4f-46f0-a8af-1cf672be8c84"


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with running_standin() as running:
        yield running


@pytest.fixture
def pushing(settings: Settings, standin: StandIn) -> Settings:
    return settings.model_copy(update={
        "uitdatabank_url": standin.url, "uitdatabank_token_url": standin.token_url,
        "uitdatabank_client_id": standin.client_id,
        "uitdatabank_client_secret": SecretStr(standin.client_secret),
    })  # fmt: skip


@pytest.fixture
def console(pushing: Settings, clock: FixedClock, queue: RecordingQueue) -> Iterator[TestClient]:
    with TestClient(create_app(pushing, clock, queue=queue), raise_server_exceptions=False) as tc:
        yield tc


def _push(queue: RecordingQueue, database: Database, standin: StandIn, clock: FixedClock,
          settings: Settings) -> list[str]:  # fmt: skip
    api = EntryApi(standin.url, token_url=standin.token_url, client_id=standin.client_id,
                   client_secret=standin.client_secret, now=clock.now)  # fmt: skip
    target = Target(settings.public_url, settings.uitdatabank_language)
    asked = [args for name, args in queue.sent if name == "listings.push_event"]
    queue.sent = [sent for sent in queue.sent if sent[0] != "listings.push_event"]
    done = [push_event(database, api, args[0], clock.now(), target, force="force" in args[1:]).action
            for args in asked]  # fmt: skip
    api.close()
    return done


def _state(page_text: str) -> str:
    start = page_text.index('id="uitdatabank-state">') + len('id="uitdatabank-state">')
    return page_text[start : page_text.index("</p>", start)]


def test_the_event_page_shows_the_state_and_an_admin_pushes_again(
    console: TestClient, queue: RecordingQueue, database: Database, settings: Settings,
    pushing: Settings, standin: StandIn, clock: FixedClock,
) -> None:  # fmt: skip
    admin = admin_signed_in(console, queue, database, settings, clock.now())
    venue = VenueHandle(admin.venue_id, admin.key, bearer(admin.key))
    event = published_event(console, venue, clock.now(), uitdatabank_type=THEATRE,
                            attendance_mode="online")  # fmt: skip
    path = f"/console/events/{event['id']}"
    page = console.get(path)
    assert page.status_code == 200
    assert "Waiting to be sent to UiTdatabank." in _state(page.text)
    assert f'<option value="{THEATRE}" selected>Theatre</option>' in page.text
    assert _push(queue, database, standin, clock, pushing) == ["created"]
    page = console.get(path)
    [uid] = standin.events
    assert f"Sent to UiTdatabank (id {uid})" in _state(page.text)

    answer = post(console, f"{path}/uitdatabank/push", {}, token=form_token(page.text))
    assert answer.status_code == 303, answer.text
    assert ("listings.push_event", (event["id"], "force")) in queue.sent
    assert "Waiting to be sent" in _state(console.get(path).text)
    assert _push(queue, database, standin, clock, pushing) == ["updated"]
    with database.unit_of_work() as uow:
        row = uow.session.get(ListingPush, event["id"])
        assert row is not None and row.state == "sent"
        actions = uow.session.exec(select(AuditEntry.action)).all()
    assert "event.listing_pushed" in actions


def test_a_refused_push_shows_its_reason_and_the_place_form_fixes_it(
    console: TestClient, queue: RecordingQueue, database: Database, settings: Settings,
    pushing: Settings, standin: StandIn, clock: FixedClock,
) -> None:  # fmt: skip
    admin = admin_signed_in(console, queue, database, settings, clock.now())
    venue = VenueHandle(admin.venue_id, admin.key, bearer(admin.key))
    event = published_event(console, venue, clock.now(), uitdatabank_type=THEATRE)  # hybrid
    assert _push(queue, database, standin, clock, pushing) == ["refused"]
    path = f"/console/events/{event['id']}"
    page = console.get(path)
    assert "set the venue&#39;s UiTdatabank place" in _state(page.text)

    wrong = post(console, "/console/uitdatabank-place",
                 {"event_id": event["id"], "uitdatabank_place": "Opera Vlaanderen"},
                 token=form_token(page.text))  # fmt: skip
    assert wrong.status_code == 422
    assert "enter the place&#39;s UiTdatabank id" in wrong.text
    assert 'value="Opera Vlaanderen"' in wrong.text  # what was typed stays
    saved = post(console, "/console/uitdatabank-place",
                 {"event_id": event["id"],
                  "uitdatabank_place": f"https://io.uitdatabank.be/places/{PLACE.upper()}"},
                 token=form_token(page.text))  # fmt: skip
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"{path}?done=uitdatabank-place#uitdatabank"
    with database.unit_of_work() as uow:
        found = uow.session.get(Venue, admin.venue_id)
        assert found is not None and found.uitdatabank_place_id == PLACE
    # The worker pushes the venue's offered events again: now as mixed, at the place.
    assert ("listings.push_venue", (admin.venue_id,)) in queue.sent
    queue.sent.append(("listings.push_event", (event["id"],)))  # what push_venue enqueues
    assert _push(queue, database, standin, clock, pushing) == ["created"]
    [body] = standin.events.values()
    assert body["attendanceMode"] == "mixed" and PLACE in body["location"]["@id"]


def test_the_event_form_sets_and_clears_the_type(
    console: TestClient, queue: RecordingQueue, database: Database, settings: Settings,
    clock: FixedClock,
) -> None:  # fmt: skip
    admin = admin_signed_in(console, queue, database, settings, clock.now())
    venue = VenueHandle(admin.venue_id, admin.key, bearer(admin.key))
    event = published_event(console, venue, clock.now(), attendance_mode="online")
    path = f"/console/events/{event['id']}"
    page = console.get(path)
    assert "Not listed: choose an event type" in _state(page.text)
    fields = {
        "title": event["title"], "description": event["description"],
        "starts_at": "2026-12-11T20:00", "ends_at": "2026-12-11T23:00",
        "attendance_mode": "online", "doors_open_minutes": "30", "replay_hours": "48",
        "allowed_countries": "NL, BE", "playback": "https://origin.example.org/live",
    }  # fmt: skip
    refused = post(console, path, {**fields, "uitdatabank_type": "0.14.0.0.0"},
                   token=form_token(page.text))  # fmt: skip
    assert refused.status_code == 422
    saved = post(console, path, {**fields, "uitdatabank_type": "0.50.4.0.0"},
                 token=form_token(page.text))  # fmt: skip
    assert saved.status_code == 303, saved.text
    assert ("listings.push_event", (event["id"],)) in queue.sent
    cleared = post(console, path, {**fields, "uitdatabank_type": ""}, token=form_token(page.text))
    assert cleared.status_code == 303
    with database.unit_of_work() as uow:
        found = uow.session.get(Event, event["id"])
        assert found is not None and found.uitdatabank_type is None
