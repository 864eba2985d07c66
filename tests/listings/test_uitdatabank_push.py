"""Events flowing to UiTdatabank: publishing, changing and cancelling an event through the
API pushes, through the outbox and the push task's use case, to a stand-in UiTdatabank
served over HTTP in the test process (tests/listings/uitdatabank_standin.py), which
checks the token, the body and the calendar, and records what it received.

The API runs with pushing on; its bus enqueues `listings.push_event` into a recording
queue, and `_drain` does what the worker does with each (the use case behind the task).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery import current_app
from pydantic import SecretStr
from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.catalog.listing_pushes import ListingPush
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.listings.uitdatabank.client import EntryApi, Permanent
from streamsvc.listings.uitdatabank.push import Outcome, Target, give_up, push_event
from streamsvc.venues.models import Venue
from tests.conftest import RecordingQueue
from tests.factories import make_event, make_tier, make_venue, ok, published_event, put_split_rule
from tests.listings.uitdatabank_standin import StandIn, running_standin
from workers.celery_app import create_celery
from workers.tasks import listings as listing_tasks

PLACE = "5cf42d51-3a4f-46f0-a8af-1cf672be8c84"
THEATRE = "0.55.0.0.0"


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
        "uitdatabank_language": "nl",
    })  # fmt: skip


@pytest.fixture
def api_client(pushing: Settings, clock: FixedClock, queue: RecordingQueue) -> Iterator[TestClient]:
    with TestClient(create_app(pushing, clock, queue=queue), raise_server_exceptions=False) as tc:
        yield tc


@pytest.fixture
def entry(standin: StandIn, clock: FixedClock) -> Iterator[EntryApi]:
    api = EntryApi(standin.url, token_url=standin.token_url, client_id=standin.client_id,
                   client_secret=standin.client_secret, now=clock.now)  # fmt: skip
    yield api
    api.close()


def _drain(queue: RecordingQueue, database: Database, entry: EntryApi, clock: FixedClock,
           settings: Settings) -> list[Outcome]:  # fmt: skip
    """Run the pushes the API enqueued, as the worker would; their outcomes."""
    target = Target(settings.public_url, settings.uitdatabank_language)
    asked = [args for name, args in queue.sent if name == "listings.push_event"]
    queue.sent = [sent for sent in queue.sent if sent[0] != "listings.push_event"]
    return [push_event(database, entry, args[0], clock.now(), target, force="force" in args[1:])
            for args in asked]  # fmt: skip


def _row(database: Database, event_id: str) -> ListingPush:
    with database.unit_of_work() as uow:
        row = uow.session.get(ListingPush, event_id)
        assert row is not None
        return row


def _set_place(database: Database, venue_id: str, place: str) -> None:
    with database.unit_of_work() as uow:
        venue = uow.session.get(Venue, venue_id)
        assert venue is not None
        venue.uitdatabank_place_id = place
        uow.session.add(venue)


def test_publishing_changing_and_cancelling_pushes_three_well_formed_requests(
    api_client: TestClient, queue: RecordingQueue, database: Database, entry: EntryApi,
    standin: StandIn, clock: FixedClock, pushing: Settings,
) -> None:  # fmt: skip
    venue = make_venue(api_client, "Opera Vlaanderen", country="BE", timezone="Europe/Brussels")
    _set_place(database, venue.id, PLACE)
    event = make_event(api_client, venue, clock.now(), uitdatabank_type=THEATRE,
                       timezone="Europe/Brussels")  # fmt: skip
    make_tier(api_client, venue, event["id"], name="Stream HD", price_amount=1950)
    make_tier(api_client, venue, event["id"], name="Zaal", price_amount=4500, capacity=80,
              access={"quality": "hd", "in_venue": True})  # fmt: skip
    put_split_rule(api_client, venue, event["id"])
    assert _drain(queue, database, entry, clock, pushing) == []  # a draft is not listed
    ok(api_client.post(f"/v1/events/{event['id']}/publish", headers=venue.headers))
    created = _drain(queue, database, entry, clock, pushing)
    assert [o.action for o in created] == ["created"]
    uid = created[0].detail
    ok(api_client.patch(f"/v1/events/{event['id']}", json={"title": "La Traviata (Verdi)"},
                        headers=venue.headers))  # fmt: skip
    assert [o.action for o in _drain(queue, database, entry, clock, pushing)] == ["updated"]
    ok(api_client.post(f"/v1/events/{event['id']}/cancel", headers=venue.headers), 202)
    assert [o.action for o in _drain(queue, database, entry, clock, pushing)] == ["cancelled"]

    assert standin.calls == [("POST", "/events", 201), ("PUT", f"/events/{uid}", 200),
                             ("PUT", f"/events/{uid}/status", 204)]  # fmt: skip
    assert all(r.authorized and r.problems == [] for r in standin.received)
    first, change, cancel = (r.body for r in standin.received)
    page = f"{pushing.public_url.rstrip('/')}/events/{event['id']}"
    assert first["name"] == {"nl": "La Traviata"}
    assert first["terms"] == [{"id": THEATRE, "domain": "eventtype"}]
    assert first["attendanceMode"] == "mixed"
    assert first["location"] == {"@id": f"{standin.url}/places/{PLACE}"}
    assert first["onlineUrl"] == first["bookingInfo"]["url"] == page
    assert [(p["category"], p["price"]) for p in first["priceInfo"]] == [
        ("base", 19.5), ("tariff", 45.0)
    ]  # fmt: skip
    assert first["subEvent"][0]["startDate"].endswith("+01:00")  # December in Brussels
    assert change["name"] == {"nl": "La Traviata (Verdi)"}
    assert {k: v for k, v in change.items() if k != "name"} == {
        k: v for k, v in first.items() if k != "name"
    }  # fmt: skip
    assert cancel["type"] == "Unavailable" and "nl" in cancel["reason"]
    row = _row(database, event["id"])
    assert (row.uitdatabank_id, row.state, row.pushed_status) == (uid, "sent", "Unavailable")
    assert standin.token_requests == 1  # one token, reused for all three calls


def test_an_unchanged_event_is_not_pushed_again(
    api_client: TestClient, queue: RecordingQueue, database: Database, entry: EntryApi,
    standin: StandIn, clock: FixedClock, pushing: Settings,
) -> None:  # fmt: skip
    venue = make_venue(api_client)
    event = published_event(api_client, venue, clock.now(), uitdatabank_type=THEATRE,
                            attendance_mode="online")  # fmt: skip
    assert [o.action for o in _drain(queue, database, entry, clock, pushing)] == ["created"]
    # The same title written again, and a push asked for again: nothing is sent.
    ok(api_client.patch(f"/v1/events/{event['id']}", json={"title": event["title"]},
                        headers=venue.headers))  # fmt: skip
    target = Target(pushing.public_url, "nl")
    again = [*_drain(queue, database, entry, clock, pushing),
             push_event(database, entry, event["id"], clock.now(), target)]  # fmt: skip
    assert {o.action for o in again} == {"unchanged"}
    assert len(standin.received) == 1
    # Asked by an admin (force): sent again, as an update of the same event.
    forced = push_event(database, entry, event["id"], clock.now(), target, force=True)
    assert forced.action == "updated"
    assert standin.calls[-1][:2] == ("PUT", f"/events/{_row(database, event['id']).uitdatabank_id}")


def test_an_outage_is_retried_and_then_succeeds(
    api_client: TestClient, queue: RecordingQueue, database: Database, entry: EntryApi,
    standin: StandIn, clock: FixedClock, pushing: Settings,
) -> None:  # fmt: skip
    venue = make_venue(api_client)
    standin.fail_next = [503]
    event = published_event(api_client, venue, clock.now(), uitdatabank_type=THEATRE,
                            attendance_mode="online")  # fmt: skip
    [first] = _drain(queue, database, entry, clock, pushing)
    assert first.retry and "503" in first.detail
    row = _row(database, event["id"])
    assert (row.state, row.attempts, row.uitdatabank_id) == ("pending", 1, None)
    assert row.last_error is not None and "503" in row.last_error
    clock.advance(seconds=10)
    target = Target(pushing.public_url, "nl")
    second = push_event(database, entry, event["id"], clock.now(), target)  # the retry
    assert second.action == "created"
    assert standin.calls == [("POST", "/events", 503), ("POST", "/events", 201)]
    row = _row(database, event["id"])
    assert (row.state, row.attempts, row.last_error) == ("sent", 0, None)
    assert len(standin.events) == 1  # created once


def test_a_push_that_keeps_failing_ends_failed_with_its_reason(
    api_client: TestClient, queue: RecordingQueue, database: Database, entry: EntryApi,
    standin: StandIn, clock: FixedClock, pushing: Settings,
) -> None:  # fmt: skip
    venue = make_venue(api_client)
    standin.fail_next = [502, 503]
    event = published_event(api_client, venue, clock.now(), uitdatabank_type=THEATRE,
                            attendance_mode="online")  # fmt: skip
    target = Target(pushing.public_url, "nl")
    assert _drain(queue, database, entry, clock, pushing)[0].retry
    assert push_event(database, entry, event["id"], clock.now(), target).retry
    give_up(database, event["id"], clock.now())  # the task's last retry
    row = _row(database, event["id"])
    assert (row.state, row.attempts) == ("failed", 2)
    assert row.last_error is not None and "HTTP 503" in row.last_error


def test_a_hybrid_event_without_a_place_fails_for_good_and_says_why(
    api_client: TestClient, queue: RecordingQueue, database: Database, entry: EntryApi,
    standin: StandIn, clock: FixedClock, pushing: Settings,
) -> None:  # fmt: skip
    venue = make_venue(api_client)
    event = published_event(api_client, venue, clock.now(), uitdatabank_type=THEATRE)
    [outcome] = _drain(queue, database, entry, clock, pushing)
    assert outcome.action == "refused" and not outcome.retry
    row = _row(database, event["id"])
    assert row.state == "failed" and "UiTdatabank place" in (row.last_error or "")
    assert standin.received == []  # nothing sent that UiTdatabank would refuse


def test_tokens_are_renewed_after_a_401_and_bad_credentials_are_permanent(
    standin: StandIn, clock: FixedClock
) -> None:
    api = EntryApi(standin.url, token_url=standin.token_url, client_id=standin.client_id,
                   client_secret=standin.client_secret, now=clock.now)  # fmt: skip
    with pytest.raises(Permanent, match="HTTP 404"):
        api.set_status("00000000-0000-0000-0000-000000000001", {"type": "Available"})
    standin.revoke_tokens()
    with pytest.raises(Permanent, match="HTTP 404"):  # past the 401, with a new token
        api.set_status("00000000-0000-0000-0000-000000000001", {"type": "Available"})
    assert standin.token_requests == 2
    assert [r.answered for r in standin.received] == [404, 401, 404]
    api.close()
    wrong = EntryApi(standin.url, token_url=standin.token_url, client_id=standin.client_id,
                     client_secret="guessed", now=clock.now)  # fmt: skip
    with pytest.raises(Permanent, match="refused the client id and secret") as refused:
        wrong.create_event({})
    assert "guessed" not in str(refused.value)
    wrong.close()


def test_a_body_the_entry_api_refuses_is_permanent_with_its_words(
    standin: StandIn, entry: EntryApi
) -> None:
    with pytest.raises(Permanent, match="terms need exactly one known eventtype"):
        entry.create_event({"mainLanguage": "nl", "name": {"nl": "x"}, "calendarType": "single",
                            "subEvent": [{"startDate": "2026-12-11T20:00:00+01:00",
                                          "endDate": "2026-12-11T22:00:00+01:00"}],
                            "attendanceMode": "online", "terms": []})  # fmt: skip


def test_pushing_is_off_when_no_entry_api_is_set(
    client: TestClient, queue: RecordingQueue, database: Database, clock: FixedClock
) -> None:
    venue = make_venue(client)
    published_event(client, venue, clock.now(), uitdatabank_type=THEATRE,
                    attendance_mode="online")  # fmt: skip
    assert "listings.push_event" not in queue.names()
    with database.unit_of_work() as uow:
        assert uow.session.exec(select(ListingPush)).all() == []


def test_an_event_without_a_type_is_never_offered(
    api_client: TestClient, queue: RecordingQueue, clock: FixedClock
) -> None:
    venue = make_venue(api_client)
    event = published_event(api_client, venue, clock.now(), attendance_mode="online")
    ok(api_client.patch(f"/v1/events/{event['id']}", json={"title": "Aida"},
                        headers=venue.headers))  # fmt: skip
    assert "listings.push_event" not in queue.names()
    refused = api_client.patch(f"/v1/events/{event['id']}", json={"uitdatabank_type": "0.14.0.0.0"},
                               headers=venue.headers)  # fmt: skip
    assert refused.status_code == 422 and "uitdatabank_type" in refused.text


def test_a_place_change_pushes_the_venues_events_again(
    api_client: TestClient, queue: RecordingQueue, database: Database, clock: FixedClock
) -> None:
    venue = make_venue(api_client)
    _set_place(database, venue.id, PLACE)
    assert "listings.push_venue" not in queue.names()
    # The API's bus hands the venue's change to the worker (the `database` fixture's bus
    # has pushing off): write through the API's own database.
    app_database: Database = api_client.app.state.resources.database  # type: ignore[attr-defined]
    _set_place(app_database, venue.id, "0b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
    assert ("listings.push_venue", (venue.id,)) in queue.sent
    _set_place(app_database, venue.id, "0b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")  # unchanged
    assert queue.names().count("listings.push_venue") == 1


def test_the_task_retries_an_outage_and_is_off_without_an_entry_api(
    api_client: TestClient, queue: RecordingQueue, database: Database, standin: StandIn,
    clock: FixedClock, pushing: Settings, settings: Settings,
) -> None:  # fmt: skip
    """The Celery task itself, run eagerly (a retry runs at once instead of after its
    countdown): a 503 is retried and the event created once."""
    venue = make_venue(api_client)
    event = published_event(api_client, venue, clock.now(), uitdatabank_type=THEATRE,
                            attendance_mode="online")  # fmt: skip
    previous = current_app._get_current_object()
    apps = [create_celery(pushing), create_celery(settings)]
    try:
        standin.fail_next = [503]
        on, off = (app.tasks[listing_tasks.push_listing.name] for app in apps)
        assert on.max_retries == 8 and on.acks_late and on.reject_on_worker_lost
        result = on.apply(args=[event["id"]])
        assert (result.state, result.get()) == ("SUCCESS", "created"), result.state
        assert standin.calls == [("POST", "/events", 503), ("POST", "/events", 201)]
        assert off.apply(args=[event["id"]]).get() == "off"
        assert len(standin.calls) == 2
    finally:
        for app in apps:
            listing_tasks.close_entry_api(app.streamsvc_resources)
            app.streamsvc_resources.database.dispose()
        previous.set_current()
    row = _row(database, event["id"])
    assert (row.state, row.attempts) == ("sent", 0)
