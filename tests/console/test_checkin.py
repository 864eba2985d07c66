"""/console/check-in: a seat ticket is admitted once (even when two doors scan it at
the same moment), and every refusal says why; the door role sees nothing else."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.audit.models import AuditEntry
from streamsvc.checkin import service
from streamsvc.checkin.models import Admission
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import seats
from tests.console.helpers import (
    Shop,
    console_shop,
    form_token,
    hybrid_shop,
    paid_order,
    tickets,
)
from tests.factories import ok
from tests.staff.helpers import member_signed_in, post

pytestmark = pytest.mark.stripe


def _tonight(client: TestClient, queue: Any, database: Database, settings: Settings,
             clock: FixedClock) -> Shop:  # fmt: skip
    """An event starting in two hours (12:00 UTC now: 15:00 in Amsterdam, doors 14:30)."""
    starts = clock.now() + timedelta(hours=2)
    return console_shop(client, queue, database, settings, clock,
                        starts_at=starts.isoformat(),
                        ends_at=(starts + timedelta(hours=3)).isoformat())  # fmt: skip


def _scan(door: TestClient, event_id: str, code: str) -> Any:
    page = door.get("/console/check-in", params={"event": event_id})
    assert page.status_code == 200, page.text
    return post(door, "/console/check-in", {"event_id": event_id, "code": code},
                token=form_token(page.text))  # fmt: skip


def _verdict(answer: Any) -> str:
    match = re.search(r'<div id="verdict"[^>]*>(.*?)</div>', answer.text, re.S)
    assert match, answer.text[:3000]
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def test_a_seat_ticket_is_admitted_once_by_the_door(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = _tonight(client, queue, database, settings, clock)
    order = paid_order(client, database, clock, shop.event["id"], shop.seat_tier)
    first, second = tickets(client, shop, order["id"])
    door = member_signed_in(client, queue, database, settings, clock.now(),
                            "dora@example.org", "door")  # fmt: skip
    page = door.get("/console/check-in")
    assert page.status_code == 200 and shop.event["title"] in page.text
    assert first["code"] not in page.text

    admitted = _scan(door, shop.event["id"], first["code"])
    assert admitted.status_code == 200
    assert _verdict(admitted).startswith("Admitted"), _verdict(admitted)
    clock.advance(minutes=7)
    again = _scan(door, shop.event["id"], f"  {first['code']} ")
    # 12:00 UTC is 13:00 in Amsterdam.
    assert "Not admitted" in _verdict(again) and "Already in at 13:00" in _verdict(again)
    assert _verdict(_scan(door, shop.event["id"], second["code"])).startswith("Admitted")

    with database.unit_of_work() as uow:
        rows = uow.session.exec(select(Admission).order_by(col(Admission.admitted_at))).all()
        entries = uow.session.exec(
            select(AuditEntry).where(AuditEntry.action == "ticket.admitted")
        ).all()
    assert [row.ticket_id for row in rows] == [first["id"], second["id"]]
    assert {e.object_id for e in entries} == {first["id"], second["id"]}
    assert all(e.actor_kind == "staff" and e.actor_id == rows[0].admitted_by for e in entries)


def test_the_door_is_told_why_a_ticket_is_refused(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = _tonight(client, queue, database, settings, clock)
    stream = paid_order(client, database, clock, shop.event["id"], shop.stream_tier, quantity=1)
    refunded = paid_order(client, database, clock, shop.event["id"], shop.seat_tier, quantity=1)
    ok(client.post(f"/v1/orders/{refunded['id']}/refunds", json={}, headers=shop.venue.headers),
       202)  # fmt: skip
    later, later_seat, _ = hybrid_shop(client, shop.venue, clock.now(), title="Tosca")
    other_event = paid_order(client, database, clock, later["id"], later_seat, quantity=1)
    door = member_signed_in(client, queue, database, settings, clock.now(),
                            "dora@example.org", "door")  # fmt: skip

    def verdict(event_id: str, order: dict[str, Any]) -> str:
        [ticket] = tickets(client, shop, order["id"])
        return _verdict(_scan(door, event_id, ticket["code"]))

    assert "not a seat ticket" in verdict(shop.event["id"], stream)
    assert "This ticket was refunded." in verdict(shop.event["id"], refunded)
    assert "another event: Tosca" in verdict(shop.event["id"], other_event)
    assert "This event is not today." in verdict(later["id"], other_event)
    assert "No ticket of this venue has this code." in _verdict(
        _scan(door, shop.event["id"], "no-such-code")
    )
    with database.unit_of_work() as uow:
        assert uow.session.exec(select(Admission)).all() == []


def test_two_doors_scanning_at_once_admit_once(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = _tonight(client, queue, database, settings, clock)
    order = paid_order(client, database, clock, shop.event["id"], shop.seat_tier, quantity=1)
    [ticket] = tickets(client, shop, order["id"])
    # The admin at one door, a door member at the other: each with its page's token.
    door = member_signed_in(client, queue, database, settings, clock.now(),
                            "dora@example.org", "door")  # fmt: skip
    doors = [(d, form_token(d.get("/console/check-in").text)) for d in (client, door)]
    start, answers = threading.Barrier(2), []

    def scan(door: TestClient, token: str) -> None:
        start.wait()
        answers.append(post(door, "/console/check-in",
                            {"event_id": shop.event["id"], "code": ticket["code"]}, token=token))  # fmt: skip

    threads = [threading.Thread(target=scan, args=pair) for pair in doors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    verdicts = sorted(_verdict(answer).split(" Stalls")[0] for answer in answers)
    assert verdicts == ["Admitted", "Not admitted Already in at 13:00."], verdicts
    with database.unit_of_work() as uow:
        assert len(uow.session.exec(select(Admission)).all()) == 1


def test_of_two_transactions_the_second_waits_and_finds_the_ticket_in(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = _tonight(client, queue, database, settings, clock)
    order = paid_order(client, database, clock, shop.event["id"], shop.seat_tier, quantity=1)
    [ticket] = tickets(client, shop, order["id"])
    found: list[service.Verdict] = []

    def admit() -> service.Verdict:
        with database.unit_of_work() as uow:
            return service.admit(uow.session, venue_id=shop.venue.id, event_id=shop.event["id"],
                                 code=ticket["code"], person_id="per_x", now=clock.now())  # fmt: skip

    with database.unit_of_work() as uow:
        first = service.admit(uow.session, venue_id=shop.venue.id, event_id=shop.event["id"],
                              code=ticket["code"], person_id="per_x", now=clock.now())  # fmt: skip
        second = threading.Thread(target=lambda: found.append(admit()))
        second.start()
        second.join(timeout=1)
        assert second.is_alive()  # blocked on the first one's uncommitted row
    second.join(timeout=10)
    assert first.admitted and found and not found[0].admitted
    assert found[0].reason == "already_in" and found[0].admitted_at == clock.now()


def test_the_buyers_order_page_shows_a_qr_code_for_each_seat_ticket_only(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    shop = _tonight(client, queue, database, settings, clock)
    seat = paid_order(client, database, clock, shop.event["id"], shop.seat_tier, quantity=1)
    stream = paid_order(client, database, clock, shop.event["id"], shop.stream_tier, quantity=1)
    for order, expected in ((seat, True), (stream, False)):
        [ticket] = tickets(client, shop, order["id"])
        client.cookies.set(f"order_{order['id']}", order["order_token"])
        page = client.get(f"/orders/{order['id']}")
        assert page.status_code == 200
        assert (f'id="seat-qr-{ticket["id"]}"' in page.text) is expected
        drawn = seats.qr_svg(ticket["code"], "QR code of the ticket for the door")
        assert (drawn in page.text) is expected
