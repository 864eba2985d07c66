"""Two venues co-produce an event at 60/40 with a guarantee of €500 for the partner:
after sales below and then above the break-even, and a refund back below it, each
venue's statement and export show exactly its part (real ledger postings), and each
venue's own payout run pays it its part (the partner's from the lead's books); the
partner sees nothing else of the lead venue. And the consent flow: a rule change waits for the partner."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.payouts import details
from tests.factories import VenueHandle, make_event, make_venue, ok
from tests.finance.world import World
from tests.payouts.money import IBANS, lines, owed, run, split

EXPORT = {"from": "2026-01-01", "to": "2027-12-31"}
GUARANTEE = 50_000
# Every order: one €100 ticket without VAT; Stripe's card fee is 1.5 % + 25 = 175.
PRICE, FEE = 10_000, 175


def _rule(lead: VenueHandle, partner: VenueHandle, lead_bps: int = 6000,
          guarantee: int | None = GUARANTEE) -> dict[str, Any]:  # fmt: skip
    partner_share: dict[str, Any] = {"party": {"type": "venue", "id": partner.id},
                                     "bps": 10_000 - lead_bps}  # fmt: skip
    if guarantee is not None:
        partner_share["guarantee_amount"] = guarantee
    return {"platform_fee_bps": 0, "costs": [],
            "shares": [{"party": {"type": "venue", "id": lead.id}, "bps": lead_bps},
                       partner_share]}  # fmt: skip


def _co_produce(client: TestClient, lead: VenueHandle, partner: VenueHandle,
                event_id: str) -> dict[str, Any]:  # fmt: skip
    invited = ok(client.post(f"/v1/events/{event_id}/co-producers", headers=lead.headers,
                             json={"venue_id": partner.id}), 201)  # fmt: skip
    assert invited["status"] == "invited"
    accepted: dict[str, Any] = ok(client.post(f"/v1/co-productions/{invited['id']}/accept",
                                              headers=partner.headers))  # fmt: skip
    assert accepted["status"] == "accepted"
    return accepted


def _world(client: TestClient, database: Database, clock: FixedClock) -> tuple[World, VenueHandle, str]:  # fmt: skip
    lead, partner = make_venue(client, "Opera Lead"), make_venue(client, "Theatre Partner")
    event = make_event(client, lead, clock.now(), title="Co-produced opera")
    tier = ok(client.post(f"/v1/events/{event['id']}/tiers", headers=lead.headers,
                          json={"name": "Stream", "price_amount": PRICE, "vat_rate_bps": 0,
                                "access": {"quality": "hd"}}), 201)  # fmt: skip
    # Naming the partner before it accepted is refused.
    early = client.put(f"/v1/events/{event['id']}/split-rule", headers=lead.headers,
                       json=_rule(lead, partner))  # fmt: skip
    assert early.status_code == 422
    assert early.json()["error"]["fields"] == {
        "shares[1].party.id": "not this venue nor a venue that accepted to co-produce the event"
    }
    co_production = _co_produce(client, lead, partner, event["id"])
    ok(client.put(f"/v1/events/{event['id']}/split-rule", headers=lead.headers,
                  json=_rule(lead, partner)))  # fmt: skip
    ok(client.post(f"/v1/events/{event['id']}/publish", headers=lead.headers))
    parties = [{"type": "venue", "id": lead.id, "name": "Opera Lead"},
               {"type": "venue", "id": partner.id, "name": "Theatre Partner"}]  # fmt: skip
    return (
        World(client, database, clock, lead, event, [tier], parties),
        partner,
        co_production["id"],
    )


def _parts(statement: dict[str, Any]) -> dict[str, int]:
    return {party["party"]["id"]: party["amount"] for party in statement["parties"]}


def _export(client: TestClient, venue: VenueHandle) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ok(client.get("/v1/finance/splits", params=EXPORT,
                                               headers=venue.headers))["data"]  # fmt: skip
    return rows


def _check(world: World, partner: VenueHandle, co_id: str, distributable: int,
           lead_part: int, partner_part: int) -> None:  # fmt: skip
    client, lead = world.client, world.venue
    full = world.statement()
    assert full["distributable"] == distributable and full["undistributed"] == 0
    assert _parts(full) == {lead.id: lead_part, partner.id: partner_part}
    # The partner's statement of the event: the waterfall, and of the parties only its own.
    seen = ok(client.get(f"/v1/co-productions/{co_id}/statement", headers=partner.headers))
    assert seen["distributable"] == distributable
    assert [(p["party"]["id"], p["amount"]) for p in seen["parties"]] == [(partner.id,
                                                                          partner_part)]  # fmt: skip
    # Each venue's export: the partner's holds only its own rows, summing to its part.
    partner_rows = _export(client, partner)
    assert {(r["party_type"], r["party_id"]) for r in partner_rows} == {("venue", partner.id)}
    assert sum(r["party_amount"] for r in partner_rows) == partner_part
    assert {r["event_id"] for r in partner_rows} == {world.event["id"]}
    lead_rows = _export(client, lead)
    assert sum(r["party_amount"] for r in lead_rows if r["party_id"] == lead.id) == lead_part
    assert sum(r["party_amount"] for r in lead_rows if r["party_id"] == partner.id) == partner_part
    assert owed(world.database, lead.id) == {("venue", lead.id): lead_part,
                                             ("venue", partner.id): partner_part}  # fmt: skip


def test_a_guaranteed_co_producer_is_paid_exactly_below_and_above_the_break_even(
    client: TestClient, database: Database, clock: FixedClock, settings: Settings
) -> None:
    world, partner, co_id = _world(client, database, clock)
    lead = world.venue
    # Below the break-even (40 % of the distributable under €500): the guarantee.
    orders = [world.buy([(0, 1)]) for _ in range(8)]
    split(world, "first")
    below = 8 * (PRICE - FEE)  # 78600
    _check(world, partner, co_id, below, below - GUARANTEE, GUARANTEE)
    # Above it: the plain 60/40.
    orders += [world.buy([(0, 1)]) for _ in range(12)]
    split(world, "second")
    above = 20 * (PRICE - FEE)  # 196500
    _check(world, partner, co_id, above, above * 6 // 10, above * 4 // 10)
    # Refunds after the split bring it back under: the lead gives back, the partner
    # keeps its guarantee (Stripe keeps its fees on the refunded orders).
    for order in orders[:8]:
        world.refund(order, PRICE)
    split(world, "third")
    after = 12 * PRICE - 20 * FEE  # 116500
    _check(world, partner, co_id, after, after - GUARANTEE, GUARANTEE)

    # Each venue is paid through its own payout run, to the details it keeps itself:
    # the lead's run pays the lead only; the partner's pays its share from the lead's books.
    clock.advance(days=40)
    with database.unit_of_work() as uow:
        for n, party in enumerate(world.parties):
            details.change(uow.session, party["id"], "venue", party["id"], holder=party["name"],
                           iban=IBANS[n], bic="", changed_by="stf_alice", now=clock.now())  # fmt: skip
            details.confirm(uow.session, party["id"], "venue", party["id"],
                            confirmed_by="stf_bob", now=clock.now())  # fmt: skip
    paid = lines(database, run(database, settings, lead.id, "2026-12", clock.now()))
    assert {pid: (line.status, line.amount) for pid, line in paid.items()} == {
        lead.id: ("pending", after - GUARANTEE),
    }
    theirs = lines(database, run(database, settings, partner.id, "2026-12", clock.now()))
    assert {pid: (line.status, line.amount, line.venue_id) for pid, line in theirs.items()} == {
        partner.id: ("pending", GUARANTEE, lead.id),
    }


def test_the_partner_sees_only_what_it_co_produces(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    world, partner, co_id = _world(client, database, clock)
    lead = world.venue
    other = make_event(client, lead, clock.now(), title="The lead's own event")
    stranger = make_venue(client, "Somebody else")
    # The lead venue's other event, its statement, its co-producers: not found.
    for url in (f"/v1/events/{other['id']}", f"/v1/events/{world.event['id']}",
                f"/v1/finance/events/{world.event['id']}/statement",
                f"/v1/events/{world.event['id']}/co-producers",
                f"/v1/events/{world.event['id']}/split-rule"):  # fmt: skip
        assert client.get(url, headers=partner.headers).status_code == 404, url
    listed = ok(client.get("/v1/co-productions", headers=partner.headers))["data"]
    assert [c["event_id"] for c in listed] == [world.event["id"]]
    seen = ok(client.get(f"/v1/co-productions/{co_id}", headers=partner.headers))
    assert seen["title"] == "Co-produced opera"
    assert seen["split_rule"]["version"] == 1 and seen["waiting_rule"] is None
    # Another venue reaches nothing of the co-production.
    for url in (f"/v1/co-productions/{co_id}", f"/v1/co-productions/{co_id}/statement"):
        assert client.get(url, headers=stranger.headers).status_code == 404
    assert client.post(f"/v1/co-productions/{co_id}/decline",
                       headers=stranger.headers).status_code == 404  # fmt: skip
    assert ok(client.get("/v1/co-productions", headers=stranger.headers))["data"] == []
    # A declined invitation shows nothing, and may be sent again.
    invited = ok(client.post(f"/v1/events/{other['id']}/co-producers", headers=lead.headers,
                             json={"venue_id": partner.id}), 201)  # fmt: skip
    assert client.get(f"/v1/co-productions/{invited['id']}",
                      headers=partner.headers).status_code == 404  # fmt: skip
    ok(client.post(f"/v1/co-productions/{invited['id']}/decline", headers=partner.headers))
    assert client.post(f"/v1/co-productions/{invited['id']}/accept",
                       headers=partner.headers).status_code == 409  # fmt: skip
    again = client.post(f"/v1/events/{other['id']}/co-producers", headers=lead.headers,
                        json={"venue_id": partner.id})  # fmt: skip
    assert again.status_code == 201 and again.json()["status"] == "invited"
    twice = client.post(f"/v1/events/{other['id']}/co-producers", headers=lead.headers,
                        json={"venue_id": partner.id})  # fmt: skip
    assert twice.status_code == 409
    itself = client.post(f"/v1/events/{other['id']}/co-producers", headers=lead.headers,
                         json={"venue_id": lead.id})  # fmt: skip
    assert itself.status_code == 422


def _audit(database: Database, venue_id: str) -> list[tuple[str, dict[str, Any]]]:
    with database.engine.connect() as conn:
        found = conn.execute(text("SELECT action, changes FROM audit_entries WHERE venue_id = :v "
                                  "ORDER BY created_at, id"), {"v": venue_id}).all()  # fmt: skip
    return [(str(action), dict(changes)) for action, changes in found]


def _version(database: Database, order: dict[str, Any]) -> int:
    """The split-rule version the order was sold under."""
    with database.engine.connect() as conn:
        return int(conn.execute(text("SELECT split_rule_version FROM orders WHERE id = :o"),
                                {"o": order["id"]}).scalar_one())  # fmt: skip


def test_a_rule_change_waits_for_the_co_producers_consent(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    world, partner, co_id = _world(client, database, clock)
    lead, event_id = world.venue, world.event["id"]
    changed = ok(client.put(f"/v1/events/{event_id}/split-rule", headers=lead.headers,
                            json=_rule(lead, partner, lead_bps=5000, guarantee=None)))  # fmt: skip
    assert changed["version"] == 2
    # Until the partner consents, version 1 stays in force: orders are sold under it.
    assert _version(database, world.buy([(0, 1)])) == 1
    seen = ok(client.get(f"/v1/co-productions/{co_id}", headers=partner.headers))
    assert (seen["split_rule"]["version"], seen["waiting_rule"]["version"],
            seen["waiting_for"]) == (1, 2, [partner.id])  # fmt: skip
    split(world, "first")
    assert _parts(world.statement()) == {lead.id: 0, partner.id: PRICE - FEE}  # guaranteed
    # Consent to what is not waiting: refused.
    stale = client.post(f"/v1/co-productions/{co_id}/consent", headers=partner.headers,
                        json={"version": 3})  # fmt: skip
    assert stale.status_code == 404
    consented = ok(client.post(f"/v1/co-productions/{co_id}/consent", headers=partner.headers,
                               json={"version": 2}))  # fmt: skip
    assert (consented["split_rule"]["version"], consented["waiting_rule"]) == (2, None)
    again = client.post(f"/v1/co-productions/{co_id}/consent", headers=partner.headers,
                        json={"version": 2})  # fmt: skip
    assert again.status_code == 409
    assert _version(database, world.buy([(0, 1)])) == 2
    # Logged in both venues' audit logs.
    for venue_id in (lead.id, partner.id):
        actions = [(action, changes) for action, changes in _audit(database, venue_id)
                   if action.startswith(("co_production.", "split_rule.consented"))]  # fmt: skip
        assert [action for action, _ in actions] == [
            "co_production.invited",
            "co_production.accepted",
            "split_rule.consented",
        ]
        assert actions[-1][1]["version"] == 2 and actions[-1][1]["in_force"] is True
    # A newer version supersedes one still waiting: the superseded one never comes in force.
    ok(client.put(f"/v1/events/{event_id}/split-rule", headers=lead.headers,
                  json=_rule(lead, partner, lead_bps=7000)))  # fmt: skip
    ok(client.put(f"/v1/events/{event_id}/split-rule", headers=lead.headers,
                  json=_rule(lead, partner, lead_bps=8000)))  # fmt: skip
    superseded = client.post(f"/v1/co-productions/{co_id}/consent", headers=partner.headers,
                             json={"version": 3})  # fmt: skip
    assert superseded.status_code == 409
    assert _version(database, world.buy([(0, 1)])) == 2
    ok(client.post(f"/v1/co-productions/{co_id}/consent", headers=partner.headers,
                   json={"version": 4}))  # fmt: skip
    assert _version(database, world.buy([(0, 1)])) == 4
