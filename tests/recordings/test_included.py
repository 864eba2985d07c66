"""A recording included with a ticket: an event's stream tier includes the recording for
7 days after the performance. Once the event has ended, each paid order holding a
ticket of that tier gets one access (kind `included`), its window [the end, + 7 days),
mailed once; it plays inside that window only, and follows its order's refund and
dispute; an unpaid or refunded order gets none. The tier takes the recording only
from its own venue's, with its days, on the API and on the console's form."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.kit.ids import new_id
from streamsvc.orders.models import Order
from streamsvc.outbox.models import OutboxMessage
from streamsvc.recordings import included
from streamsvc.recordings.access import AccessKind, AccessStatus, RecordingAccess
from tests.conftest import RecordingQueue
from tests.console.helpers import paid_order
from tests.console.test_events_pages import TIER_FORM, Console
from tests.factories import (
    VenueHandle,
    buy,
    make_event,
    make_tier,
    make_venue,
    ok,
    put_split_rule,
)
from tests.mailbox import Mailbox
from tests.orders import scenarios as s
from tests.recordings.helpers import make_recording, published_recording, put_offers
from tests.recordings.test_viewing import redeem, refused
from tests.staff.helpers import admin_signed_in

# The clock starts at 2026-12-01 12:00 UTC; make_event's performance is 10 days later,
# 12:00 to 15:00 UTC (13:00 to 16:00 in Amsterdam).
ENDS = datetime(2026, 12, 11, 15, 0, tzinfo=UTC)
UNTIL = datetime(2026, 12, 18, 15, 0, tzinfo=UTC)  # 7 days after
HTML = {"Accept": "text/html", "Accept-Language": "en"}
SEND = "recordings.send_included_access"


def _opera(client: TestClient, venue: VenueHandle, now: datetime, recording_id: str) -> Any:
    """A published event whose stream tier includes the recording for 7 days, and a seat
    tier that includes nothing: (event, stream tier id, seat tier id)."""
    event = make_event(client, venue, now)
    stream = make_tier(client, venue, event["id"], recording_id=recording_id, recording_days=7)
    seat = make_tier(client, venue, event["id"], name="Stalls", price_amount=2500,
                     capacity=100, access={"quality": "hd", "in_venue": True})  # fmt: skip
    put_split_rule(client, venue, event["id"])
    ok(client.post(f"/v1/events/{event['id']}/publish", headers=venue.headers))
    return event, stream["id"], seat["id"]


def _accesses(database: Database, order_id: str | None = None) -> list[RecordingAccess]:
    with database.unit_of_work() as uow:
        query = select(RecordingAccess).order_by(col(RecordingAccess.id))
        if order_id is not None:
            query = query.where(RecordingAccess.order_id == order_id)
        rows = list(uow.session.exec(query))
        for row in rows:
            uow.session.expunge(row)
        return rows


def _outbox(database: Database, kind: str) -> list[dict[str, Any]]:
    with database.unit_of_work() as uow:
        rows = uow.session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(col(OutboxMessage.id))
        )
        return [dict(row.payload) for row in rows]


def _status(database: Database, order_id: str) -> str:
    with database.unit_of_work() as uow:
        order = uow.session.get(Order, order_id)
        assert order is not None
        return str(order.status)


@pytest.fixture
def smtp(settings: Settings, mailbox: Mailbox) -> Settings:
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": mailbox.port})


def test_an_ended_events_holders_get_the_recording_for_7_days_mailed_once(
    client: TestClient, database: Database, clock: FixedClock, followups: RecordingQueue,
    smtp: Settings, mailbox: Mailbox,
) -> None:  # fmt: skip
    venue = make_venue(client)
    recording = published_recording(client, venue, free=True)
    event, stream, _ = _opera(client, venue, clock.now(), recording["id"])
    assert datetime.fromisoformat(event["ends_at"]) == ENDS
    tiers = ok(client.get(f"/v1/events/{event['id']}/tiers", headers=venue.headers))["data"]
    assert [(t["recording_id"], t["recording_days"]) for t in tiers] == [
        (recording["id"], 7), (None, None)]  # fmt: skip
    order = paid_order(client, database, clock, event["id"], stream, quantity=2)

    clock.at = ENDS - timedelta(minutes=1)  # the last act
    assert included.include_for_ended_events(database, clock.now()) == []
    assert _accesses(database) == []

    clock.at = ENDS + timedelta(minutes=5)
    [access_id] = included.include_for_ended_events(database, clock.now())
    [access] = _accesses(database, order["id"])
    assert access.id == access_id and access.id.startswith("rac_")
    assert (access.kind, access.status, access.recording_id, access.offer_id) == (
        "included", "valid", recording["id"], None)  # fmt: skip
    assert (access.started_at, access.ends_at) == (ENDS, UNTIL)
    assert (access.start_by, access.watch_hours, access.mailed_at) == (None, None, None)
    assert re.fullmatch(r"([0-9a-z]{5}-){4}[0-9a-z]{5}", access.code)
    assert _outbox(database, "IncludedRecordingIssued") == [{"access_id": access.id}]
    assert followups.sent.count((SEND, (access.id,))) == 1

    # The mail: once, to the order's e-mail, the code in the link's fragment only.
    before = len(mailbox.received)
    assert included.mail_included(database, smtp, access.id, clock.now()) is True
    [mail] = mailbox.received[before:]
    assert mail.message["To"] == "buyer@example.org"
    assert mail.message["Subject"] == "Watch Bill Evans Trio, live at the Bimhuis"
    body = mail.message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert ("Included with your ticket for La Traviata: watch until "
            "Dec 18, 2026, 4:00:00\u202fPM.") in text  # fmt: skip
    link = f"{smtp.public_url.rstrip('/')}/watch/recordings/{access.id}#code={access.code}"
    assert link in text and text.count(access.code) == 1
    assert _accesses(database, order["id"])[0].mailed_at == clock.now()
    assert included.mail_included(database, smtp, access.id, clock.now()) is False
    assert len(mailbox.received) == before + 1

    # Run again (the beat's next run): nothing more is issued, nor mailed.
    clock.advance(minutes=5)
    assert included.include_for_ended_events(database, clock.now()) == []
    assert [a.id for a in _accesses(database)] == [access.id]
    assert followups.sent.count((SEND, (access.id,))) == 1

    # The buyer's order page: the recording, until when, and its Watch link.
    client.cookies.set(f"order_{order['id']}", order["order_token"])
    page = client.get(f"/orders/{order['id']}", headers=HTML).text
    assert ("Included with your ticket: Bill Evans Trio, live at the Bimhuis, to watch until "
            "Dec 18, 2026, 4:00:00\u202fPM.") in page  # fmt: skip
    assert (f'id="watch-included-recording" href="/watch/recordings/{access.id}'
            f'#code={access.code}">Watch the recording<') in page  # fmt: skip

    # It plays: its own recording, its tokens never past the window's end.
    started = ok(redeem(client, access.code), 201)
    assert started["playback"]["url"] == (
        f"https://origin.example.org/vod/{recording['id']}/hd/index.m3u8")  # fmt: skip
    clock.at = UNTIL - timedelta(minutes=1)
    assert ok(redeem(client, access.code), 201)["expires_at"] == "2026-12-18T15:00:00Z"
    clock.at = UNTIL
    answer = redeem(client, access.code)
    refused(answer, 410, "included_over")
    assert answer.json()["error"]["ends_at"] == "2026-12-18T15:00:00+00:00"
    assert included.include_for_ended_events(database, clock.now()) == []
    assert "The time to watch this recording with your ticket is over." in client.get(
        f"/orders/{order['id']}", headers=HTML).text  # fmt: skip


def test_the_watch_page_shows_the_time_left(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    venue = make_venue(client)
    recording = published_recording(client, venue, free=True)
    event, stream, _ = _opera(client, venue, clock.now(), recording["id"])
    paid_order(client, database, clock, event["id"], stream, quantity=1)
    clock.at = ENDS + timedelta(hours=1)
    [access_id] = included.include_for_ended_events(database, clock.now())
    [access] = _accesses(database)
    path = f"/watch/recordings/{access_id}"
    token = re.search(r'data-csrf="([^"]+)"', client.get(path, headers=HTML).text)
    assert token is not None
    handed = client.post(f"{path}/access", json={"code": access.code},
                         headers={"X-CSRF-Token": token.group(1)})  # fmt: skip
    assert handed.status_code == 204, handed.text
    page = client.get(path, headers=HTML).text
    assert 'data-phase="open"' in page
    assert "Plays until" in page and "(167 hours left)" in page
    clock.at = UNTIL
    page = client.get(path, headers=HTML).text
    assert 'data-phase="over"' in page
    assert "The time to watch this recording with your ticket is over." in page


def test_a_refund_revokes_it_and_a_dispute_holds_it(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    venue = make_venue(client)
    recording = published_recording(client, venue, free=True)
    event, stream, _ = _opera(client, venue, clock.now(), recording["id"])
    kept = paid_order(client, database, clock, event["id"], stream, quantity=1)
    refunded = paid_order(client, database, clock, event["id"], stream, quantity=1,
                          email="other@example.org")  # fmt: skip
    clock.at = ENDS + timedelta(minutes=5)
    assert len(included.include_for_ended_events(database, clock.now())) == 2
    [access] = _accesses(database, refunded["id"])
    ok(redeem(client, access.code), 201)

    answer = client.post(f"/v1/orders/{refunded['id']}/refunds", json={"reason": "asked"},
                         headers=venue.headers)  # fmt: skip
    assert answer.status_code == 202, answer.text
    assert _accesses(database, refunded["id"])[0].status == "revoked"
    refused(redeem(client, access.code, device="phone"), 403, "access_revoked")
    assert {"statuses": {access.id: "revoked"}} in _outbox(database,
                                                           "RecordingAccessStatusChanged")  # fmt: skip

    [held] = _accesses(database, kept["id"])
    s.deliver(client, s.dispute(kept, "dp_included", "created", "needs_response"))
    s.drain(database, clock)
    assert _accesses(database, kept["id"])[0].status == "suspended"
    refused(redeem(client, held.code), 403, "access_suspended")
    s.deliver(client, s.dispute(kept, "dp_included", "closed", "won"))
    s.drain(database, clock)
    assert _accesses(database, kept["id"])[0].status == "valid"
    ok(redeem(client, held.code), 201)


def test_unpaid_refunded_and_seat_only_orders_get_none(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    venue = make_venue(client)
    recording = published_recording(client, venue, free=True)
    event, stream, seat = _opera(client, venue, clock.now(), recording["id"])
    unpaid = buy(client, event["id"], stream, email="later@example.org")
    declined = buy(client, event["id"], stream, email="declined@example.org")
    s.deliver(client, s.failed(declined))  # the card declined: still unpaid
    refunded = paid_order(client, database, clock, event["id"], stream, quantity=1,
                          email="refunded@example.org")  # fmt: skip
    answer = client.post(f"/v1/orders/{refunded['id']}/refunds", json={"reason": "asked"},
                         headers=venue.headers)  # fmt: skip
    assert answer.status_code == 202, answer.text
    seated = paid_order(client, database, clock, event["id"], seat, quantity=1,
                        email="stalls@example.org")  # fmt: skip
    holder = paid_order(client, database, clock, event["id"], stream, quantity=1)
    s.drain(database, clock)
    assert [_status(database, o["id"]) for o in (unpaid, declined, refunded, seated)] == [
        "pending", "pending", "refunded", "paid"]  # fmt: skip

    clock.at = ENDS + timedelta(minutes=5)
    included.include_for_ended_events(database, clock.now())
    assert [a.order_id for a in _accesses(database)] == [holder["id"]]


def test_a_recording_published_after_the_event_is_granted_for_what_is_left(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    venue = make_venue(client)
    draft = make_recording(client, venue, title="La Traviata, the recording")
    event, stream, _ = _opera(client, venue, clock.now(), draft["id"])
    order = paid_order(client, database, clock, event["id"], stream, quantity=1)
    later = paid_order(client, database, clock, event["id"], stream, quantity=1,
                       email="late@example.org")  # fmt: skip
    clock.at = ENDS + timedelta(days=2)
    assert included.include_for_ended_events(database, clock.now()) == []  # still a draft
    put_offers(client, venue, draft["id"], free=True)
    ok(client.post(f"/v1/recordings/{draft['id']}/publish", headers=venue.headers))
    # Another order's ticket is suspended (a dispute): granted once the dispute is won.
    s.deliver(client, s.dispute(later, "dp_later", "created", "needs_response"))
    s.drain(database, clock)
    assert len(included.include_for_ended_events(database, clock.now())) == 1
    [access] = _accesses(database, order["id"])
    assert (access.started_at, access.ends_at) == (ENDS, UNTIL)  # not moved by the delay
    assert _accesses(database, later["id"]) == []

    # Withdrawn with what was granted stopping too: no new holder gets it.
    s.deliver(client, s.dispute(later, "dp_later", "closed", "won"))
    s.drain(database, clock)
    ok(client.patch(f"/v1/recordings/{draft['id']}",
                    json={"access_continues_after_withdrawal": False},
                    headers=venue.headers))  # fmt: skip
    ok(client.post(f"/v1/recordings/{draft['id']}/withdraw", headers=venue.headers))
    assert included.include_for_ended_events(database, clock.now()) == []
    assert _accesses(database, later["id"]) == []
    refused(redeem(client, access.code), 403, "recording_withdrawn")


def test_an_included_access_before_its_window_is_not_yet_playable(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    venue = make_venue(client)
    recording = published_recording(client, venue, free=True)
    event, stream, _ = _opera(client, venue, clock.now(), recording["id"])
    order = paid_order(client, database, clock, event["id"], stream, quantity=1)
    # Written as issuing would, had the event's end been moved later after it.
    with database.unit_of_work() as uow:
        uow.session.add(RecordingAccess(
            id=new_id("rac"), code="early-code", recording_id=recording["id"], offer_id=None,
            order_id=order["id"], venue_id=venue.id, kind=AccessKind.included,
            status=AccessStatus.valid,
            started_at=ENDS, ends_at=UNTIL, created_at=clock.now(), updated_at=clock.now(),
        ))  # fmt: skip
    answer = redeem(client, "early-code")
    refused(answer, 403, "not_yet")
    assert answer.json()["error"]["opens_at"] == "2026-12-11T15:00:00+00:00"
    clock.at = ENDS
    ok(redeem(client, "early-code"), 201)


def test_the_tier_takes_only_the_venues_recording_with_its_days(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    venue, other = make_venue(client), make_venue(client, name="Concertgebouw")
    ours = make_recording(client, venue)
    theirs = make_recording(client, other, title="Mahler 2")
    event = make_event(client, venue, clock.now())
    path = f"/v1/events/{event['id']}/tiers"

    def refused_fields(answer: Any) -> Any:
        assert answer.status_code == 422, answer.text
        return answer.json()["error"]["fields"]

    def create(**over: Any) -> Any:
        body = {"name": "Stream", "price_amount": 1950, "vat_rate_bps": 2100,
                "access": {"quality": "hd"}, **over}  # fmt: skip
        return client.post(path, json=body, headers=venue.headers)

    assert refused_fields(create(recording_id=theirs["id"], recording_days=7)) == {
        "recording_id": "not one of the venue's recordings"}  # fmt: skip
    assert refused_fields(create(recording_id="rec_nosuchrecording000", recording_days=7)) == {
        "recording_id": "not one of the venue's recordings"}  # fmt: skip
    assert refused_fields(create(recording_days=7)) == {
        "recording_id": "set recording_id and recording_days together, or neither"}  # fmt: skip
    assert refused_fields(create(recording_id=ours["id"])) == {
        "recording_days": "set recording_id and recording_days together, or neither"}  # fmt: skip
    assert set(refused_fields(create(recording_id=ours["id"], recording_days=366))) == {
        "recording_days"}  # fmt: skip
    assert set(refused_fields(create(recording_id=ours["id"], recording_days=0))) == {
        "recording_days"}  # fmt: skip

    tier = ok(create(recording_id=ours["id"], recording_days=7), 201)
    assert (tier["recording_id"], tier["recording_days"]) == (ours["id"], 7)
    tier_path = f"/v1/tiers/{tier['id']}"
    assert refused_fields(client.patch(tier_path, json={"recording_id": theirs["id"]},
                                       headers=venue.headers)) == {
        "recording_id": "not one of the venue's recordings"}  # fmt: skip
    assert refused_fields(client.patch(tier_path, json={"recording_id": None},
                                       headers=venue.headers)) == {
        "recording_id": "set recording_id and recording_days together, or neither"}  # fmt: skip
    changed = ok(client.patch(tier_path, json={"recording_days": 3}, headers=venue.headers))
    assert (changed["recording_id"], changed["recording_days"]) == (ours["id"], 3)

    # Once sold, what the tickets include may grow, never shrink.
    put_split_rule(client, venue, event["id"])
    ok(client.post(f"/v1/events/{event['id']}/publish", headers=venue.headers))
    paid_order(client, database, clock, event["id"], tier["id"], quantity=1)
    shorter = client.patch(tier_path, json={"recording_days": 2}, headers=venue.headers)
    assert shorter.status_code == 409, shorter.text
    assert shorter.json()["error"]["code"] == "included_recording_fixed"
    assert shorter.json()["error"]["fields"] == {
        "recording_days": "at least 3 while tickets are sold"}  # fmt: skip
    dropped = client.patch(tier_path, json={"recording_id": None, "recording_days": None},
                           headers=venue.headers)  # fmt: skip
    assert dropped.status_code == 409, dropped.text
    longer = ok(client.patch(tier_path, json={"recording_days": 14}, headers=venue.headers))
    assert longer["recording_days"] == 14


def test_the_console_tier_form_includes_a_recording(
    client: TestClient, queue: RecordingQueue, database: Database, settings: Settings,
    clock: FixedClock,
) -> None:  # fmt: skip
    console = Console(client, admin_signed_in(client, queue, database, settings, clock.now()))
    venue = VenueHandle(console.admin.venue_id, console.admin.key, console.api)
    recording = make_recording(client, venue, title="La Traviata, the recording")
    event_id = console.new_event()
    page = client.get(f"/console/events/{event_id}").text
    assert re.search(r'<label for="tier-new-recording_id">[^<]+</label>', page)
    assert f'<option value="{recording["id"]}">La Traviata, the recording</option>' in page

    answer = console.post(f"/console/events/{event_id}/tiers",
                          {**TIER_FORM, "recording_id": recording["id"], "recording_days": ""})  # fmt: skip
    assert answer.status_code == 422, answer.text
    # the service's rule in the page's words (web: catalog/console_pages.py)
    assert re.search(r'id="error-tier-new-recording_days"[^>]*>choose a recording and its '
                     r"days together, or neither<", answer.text)  # fmt: skip
    assert console.tiers(event_id) == []

    answer = console.post(f"/console/events/{event_id}/tiers",
                          {**TIER_FORM, "recording_id": recording["id"], "recording_days": "7"})  # fmt: skip
    assert answer.status_code == 303, answer.text
    [tier] = console.tiers(event_id)
    assert (tier["recording_id"], tier["recording_days"]) == (recording["id"], 7)
    page = client.get(f"/console/events/{event_id}").text
    assert f'<option value="{recording["id"]}" selected>' in page

    # Blank again on the tier's own form: nothing included any more.
    answer = console.post(f"/console/events/{event_id}/tiers/{tier['id']}",
                          {**TIER_FORM, "recording_id": "", "recording_days": ""})  # fmt: skip
    assert answer.status_code == 303, answer.text
    [tier] = console.tiers(event_id)
    assert (tier["recording_id"], tier["recording_days"]) == (None, None)
