"""A console session of venue A reaches nothing of venue B, on every /console route."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import select
from starlette.routing import Route
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.catalog.coproducers import CoProduction
from streamsvc.catalog.models import Event, Tier
from streamsvc.db import Database
from streamsvc.finance.findings import record_finding
from streamsvc.finance.models import FindingAcknowledgement
from streamsvc.kit.clock import FixedClock
from streamsvc.ledger.models import ReconciliationFinding
from streamsvc.payouts.models import PayoutBatch, PayoutDetails, PayoutLine
from streamsvc.staff.models import Membership, Person
from streamsvc.venues.models import ApiKey, Venue
from tests.factories import (
    VenueHandle,
    bearer,
    make_event,
    make_tier,
    make_venue,
    ok,
    published_event,
)
from tests.recordings.helpers import make_holder, published_recording
from tests.staff.helpers import admin_signed_in, browser, csrf, log_in, post

# The ways in: no session needed, so nothing of a venue behind them.
SIGNED_OUT = ("/console/login", "/console/logout", "/console/invitations/", "/console/password/")


def _console_routes(client: TestClient) -> list[Route]:
    return [
        route for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.path.startswith("/console")
        and not route.path.startswith(SIGNED_OUT)
    ]  # fmt: skip


def _b_state(database: Database, venue_b: str) -> tuple[Any, ...]:
    with database.unit_of_work() as uow:
        members = uow.session.exec(
            select(Membership.id, Membership.role).where(Membership.venue_id == venue_b)
        ).all()
        keys = uow.session.exec(
            select(ApiKey.id, ApiKey.revoked_at).where(ApiKey.venue_id == venue_b)
        ).all()
        events = uow.session.exec(
            select(Event.id, Event.title, Event.status, Event.updated_at).where(
                Event.venue_id == venue_b
            )
        ).all()
        tiers = uow.session.exec(
            select(Tier.id, Tier.price_amount, Tier.capacity).where(Tier.venue_id == venue_b)
        ).all()
        embed = uow.session.exec(select(Venue.embed_origins).where(Venue.id == venue_b)).one()
        acknowledged = uow.session.exec(select(FindingAcknowledgement.finding_id).where(
            FindingAcknowledgement.venue_id == venue_b)).all()  # fmt: skip
        return (tuple(sorted(members)), tuple(sorted(keys, key=lambda k: k[0])),
                tuple(sorted(events)), tuple(sorted(tiers)), tuple(embed),
                tuple(sorted(acknowledged)))  # fmt: skip


def _b_event(client: TestClient, b: Any, clock: FixedClock) -> dict[str, str]:
    """B's event (with a tier) and B's cancellation job of another event: their ids."""
    venue = VenueHandle(b.venue_id, b.key, bearer(b.key))
    event = make_event(client, venue, clock.now(), title="Carmen bij het Muziekgebouw")
    tier = make_tier(client, venue, event["id"])
    cancelled = published_event(client, venue, clock.now(), title="Tosca bij het Muziekgebouw")
    job = ok(client.post(f"/v1/events/{cancelled['id']}/cancel", headers=venue.headers), 202)
    return {"event_id": event["id"], "tier_id": tier["id"], "job_id": job["id"]}


def _b_payouts(database: Database, venue_b: str, clock: FixedClock) -> dict[str, str]:
    """B's payout batch with a line to B itself, and B's payout details: their ids."""
    with database.unit_of_work() as uow:
        uow.session.add(PayoutDetails(
            id="pdt_isolation_b", venue_id=venue_b, party_type="venue", party_id=venue_b,
            holder="Het Muziekgebouw", iban="NL91ABNA0417164300", changed_by="stf_b",
            changed_at=clock.now()))  # fmt: skip
        uow.session.add(PayoutBatch(
            id="pob_isolation_b", venue_id=venue_b, currency="EUR", period="2026-11",
            cutoff=clock.now(), status="awaiting_approval", total=5000, rail="sepa",
            created_by="stf_b", created_at=clock.now()))  # fmt: skip
        uow.session.flush()
        uow.session.add(PayoutLine(
            id="pol_isolation_b", batch_id="pob_isolation_b", venue_id=venue_b,
            account_id="acc_isolation_b", party_type="venue", party_id=venue_b,
            party_name="Het Muziekgebouw", status="pending", amount=5000,
            holder="Het Muziekgebouw", iban="NL91ABNA0417164300"))  # fmt: skip
    return {
        "batch_id": "pob_isolation_b",
        "line_id": "pol_isolation_b",
        "party_type": "venue",
        "party_id": venue_b,
    }


def _b_co_production(client: TestClient, b: Any, clock: FixedClock) -> str:
    """B's event co-produced (accepted) by a third venue: the co-production's id."""
    venue = VenueHandle(b.venue_id, b.key, bearer(b.key))
    event = make_event(client, venue, clock.now(), title="Nabucco bij het Muziekgebouw")
    third = make_venue(client, "Derde Zaal")
    invited = ok(client.post(f"/v1/events/{event['id']}/co-producers", headers=venue.headers,
                             json={"venue_id": third.id}), 201)  # fmt: skip
    ok(client.post(f"/v1/co-productions/{invited['id']}/accept", headers=third.headers))
    return str(invited["id"])


def _co_production_state(database: Database, co_production_id: str) -> tuple[Any, ...]:
    with database.unit_of_work() as uow:
        found = uow.session.get(CoProduction, co_production_id)
        assert found is not None
        return found.status, found.decided_at


def _b_pass(database: Database, venue_b: str, ids: dict[str, str], clock: FixedClock) -> str:
    """B's published season pass covering B's event: its id."""
    from streamsvc.passes import products
    from streamsvc.passes.models import LateRefund, Weighting

    setup = products.PassSetup(
        name="Seizoen bij het Muziekgebouw", description="", price_amount=9000,
        vat_rate_bps=900, currency="EUR", capacity=None, sales_start=None, sales_end=None,
        max_claims=None, transferable=False, weighting=Weighting.equal,
        late_refund=LateRefund.unplayed,
    )  # fmt: skip
    with database.unit_of_work() as uow:
        product = products.create_pass(uow.session, venue_b, setup, clock.now())
        products.add_event(uow.session, venue_b, product.id, ids["event_id"],
                           tier_id=ids["tier_id"], now=clock.now())  # fmt: skip
        products.set_published(uow.session, venue_b, product.id, True, clock.now())
        return product.id


def _b_pass_state(database: Database, pass_id: str) -> tuple[Any, ...]:
    from streamsvc.passes.models import PassEvent, PassProduct

    with database.unit_of_work() as uow:
        product = uow.session.get(PassProduct, pass_id)
        assert product is not None
        events = uow.session.exec(select(PassEvent.event_id, PassEvent.tier_id).where(
            PassEvent.pass_id == pass_id)).all()  # fmt: skip
        return product.name, product.price_amount, product.published, tuple(sorted(events))


def _b_recording(client: TestClient, b: Any) -> dict[str, str]:
    """B's published recording (sold, with a split rule) and B's rights holder: their ids."""
    venue = VenueHandle(b.venue_id, b.key, bearer(b.key))
    recording = published_recording(client, venue, title="Bill Evans bij het Muziekgebouw")
    return {"recording_id": recording["id"], "holder_id": make_holder(client, venue)["id"]}


def _b_recording_state(client: TestClient, b: Any, recording_id: str) -> tuple[Any, ...]:
    """B's recording as B's key reads it: the recording, its offers, rule and holders."""
    h = bearer(b.key)
    return (ok(client.get(f"/v1/recordings/{recording_id}", headers=h)),
            ok(client.get(f"/v1/recordings/{recording_id}/offers", headers=h)),
            ok(client.get(f"/v1/recordings/{recording_id}/split-rule", headers=h)),
            ok(client.get("/v1/rights-holders", headers=h)))  # fmt: skip


def _b_payout_state(database: Database) -> tuple[Any, ...]:
    with database.unit_of_work() as uow:
        batch = uow.session.get(PayoutBatch, "pob_isolation_b")
        line = uow.session.get(PayoutLine, "pol_isolation_b")
        found = uow.session.get(PayoutDetails, "pdt_isolation_b")
        assert batch is not None and line is not None and found is not None
        return batch.status, line.status, found.confirmed_by, found.iban


def test_a_session_of_one_venue_reaches_nothing_of_another(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    other = browser(client, "198.51.100.50")
    b = admin_signed_in(other, queue, database, settings, clock.now(), email="bob@example.org",
                        name="Het Muziekgebouw", admin_name="Bob Beheerder")  # fmt: skip
    a = admin_signed_in(client, queue, database, settings, clock.now())
    with database.unit_of_work() as uow:
        person_b = uow.session.exec(select(Person).where(Person.email == b.email)).one()
        membership_b = uow.session.exec(
            select(Membership).where(Membership.person_id == person_b.id)
        ).one()
        key_b = uow.session.exec(select(ApiKey).where(ApiKey.venue_id == b.venue_id)).one()
    ids = {"membership_id": membership_b.id, "key_id": key_b.id, "venue_id": b.venue_id,
           "person_id": person_b.id, **_b_event(client, b, clock)}  # fmt: skip
    with database.unit_of_work() as uow:  # B's reconciliation finding, naming B
        record_finding(uow.session, b.venue_id, None, kind="unknown_charge",
                       reference="bt:txn_isolation", now=clock.now(),
                       detail="a charge to Het Muziekgebouw matching no order")  # fmt: skip
    with database.unit_of_work() as uow:
        ids["finding_id"] = uow.session.exec(select(ReconciliationFinding.id).where(
            ReconciliationFinding.venue_id == b.venue_id)).one()  # fmt: skip
    ids.update(_b_payouts(database, b.venue_id, clock))
    ids.update(_b_recording(client, b))
    recording_before = _b_recording_state(client, b, ids["recording_id"])
    ids["co_production_id"] = _b_co_production(client, b, clock)
    co_production_before = _co_production_state(database, ids["co_production_id"])
    payouts_before = _b_payout_state(database)
    ids["pass_id"] = _b_pass(database, b.venue_id, ids, clock)
    pass_before = _b_pass_state(database, ids["pass_id"])
    # (Not the ids themselves: the language switch repeats the path it was asked for.)
    markers = ("Het Muziekgebouw", b.email, key_b.lookup, "Bob Beheerder",
               "bij het Muziekgebouw")  # fmt: skip
    before = _b_state(database, b.venue_id)
    routes = _console_routes(client)
    walked = {route.path for route in routes}
    assert {"/console/members", "/console/api-keys", "/console/account", "/console/venue"} <= walked
    assert {"/console", "/console/events/{event_id}", "/console/events/{event_id}/tiers/{tier_id}",
            "/console/events/{event_id}/split-preview", "/console/jobs/{job_id}",
            "/console/events/{event_id}/cancel",
            "/console/events/{event_id}/audience"} <= walked  # fmt: skip
    assert {"/console/finance", "/console/finance/events/{event_id}",
            "/console/finance/exports/jobs/{job_id}/file",
            "/console/finance/reconciliation/findings/{finding_id}"} <= walked  # fmt: skip
    for route in routes:
        names = re.findall(r"{(\w+)(?::\w+)?}", route.path)
        path = route.path
        for name in names:
            path = re.sub(rf"{{{name}(?::\w+)?}}", ids.get(name, b.venue_id), path)
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            if method == "GET":
                answer = client.get(path, follow_redirects=False)
                if names:
                    assert answer.status_code in (403, 404), (path, answer.status_code)
            else:
                data = {name: value for name, value in ids.items()}
                data.update(role="admin", email="mallory@example.org", label="x", code="000000")
                answer = post(client, path, data, token=csrf(client, "/console/account"))
                assert answer.status_code != 500, (path, answer.text)
            for marker in markers:
                assert marker not in answer.text, (method, path, marker)
            assert _b_state(database, b.venue_id) == before, (method, path)
            # A route that logged us out (log out everywhere): log in again.
            if client.get("/console/account", follow_redirects=False).status_code == 303:
                assert log_in(client, a.email).status_code == 303
    assert {
        "/console/finance/payouts/{batch_id}/lines/{line_id}/failed",
        "/console/finance/parties/{party_type}/{party_id}",
    } <= walked
    assert _b_payout_state(database) == payouts_before
    assert {"/console/recordings/{recording_id}",
            "/console/recordings/{recording_id}/split-rule"} <= walked  # fmt: skip
    assert _b_recording_state(client, b, ids["recording_id"]) == recording_before
    assert {"/console/passes/{pass_id}", "/console/passes/{pass_id}/events"} <= walked
    assert _b_pass_state(database, ids["pass_id"]) == pass_before
    assert "/console/co-productions/{co_production_id}/consent" in walked
    assert _co_production_state(database, ids["co_production_id"]) == co_production_before
    # Still at our own venue, and B's admin still in at theirs.
    assert "Het Muziekgebouw" not in client.get("/console/account").text
    assert other.get("/console/members").status_code == 200
