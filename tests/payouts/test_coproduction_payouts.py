"""Each venue is paid through its own payout run (issue 19): a co-producing venue's
share, payable in the lead venue's books, is paid by the partner's run (not the lead's),
to the partner's own details, with every ledger move in the lead's books; nothing is
paid twice, concurrent runs of both venues neither double-pay nor deadlock, and the
partner's batch, advice and SEPA file show nothing of the lead's other parties.

The figures, worked out by hand (every ticket without VAT, no platform fee or costs;
Stripe's card fee is 1.5 % + 25):
- the co-produced opera, 60/40 with a guarantee of €500 for the partner: 10 tickets of
  €100 (fee 175) leave 98,250; 40 % would be 39,300, under the guarantee, so the
  partner receives 50,000 and the lead 48,250;
- the lead's own gala, 70 % the lead and 30 % its singer: 4 tickets of €40 (fee 85)
  leave 15,660: the lead 10,962, the singer 4,698;
- so the lead's run pays the lead 48,250 + 10,962 = 59,212 and its singer 4,698.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.finance import accounts
from streamsvc.kit.clock import FixedClock
from streamsvc.ledger.service import Line, post
from streamsvc.payouts import approval, details, runs
from streamsvc.payouts.models import PayoutBatch, PayoutLine
from tests.factories import VenueHandle, bearer, make_event, make_venue, ok
from tests.finance.world import World, build
from tests.payouts.money import (
    IBANS,
    account_balance,
    ledger_sums_to_zero,
    owed,
    run,
    split,
)
from tests.payouts.test_sepa_and_advice import validate
from tests.staff.helpers import admin_signed_in, browser, log_in

GUARANTEE = 50_000
PARTNER_SHARE = 50_000  # the guarantee: 40 % of 98,250 is only 39,300
LEAD_PART = 48_250 + 10_962  # its 60 % side of the opera and its 70 % of its own gala
SINGER_PART = 4_698
PARTNER_IBAN, LEAD_TYPED_IBAN = IBANS[3], IBANS[4]


@dataclass
class Scene:
    lead: VenueHandle
    partner: VenueHandle
    opera: World  # the co-produced event
    gala: World  # the lead's own event, with its own singer

    @property
    def singer(self) -> str:
        return str(self.gala.parties[1]["id"])


def co_produced(client: TestClient, database: Database, clock: FixedClock, lead: VenueHandle,
                partner: VenueHandle, *, title: str, price: int, lead_bps: int,
                guarantee: int | None, orders: int) -> World:  # fmt: skip
    """An event of `lead` co-produced by `partner` (invited, accepted, named in the split
    rule), with `orders` paid one-ticket orders, reconciled and split."""
    event = make_event(client, lead, clock.now(), title=title)
    tier = ok(client.post(f"/v1/events/{event['id']}/tiers", headers=lead.headers,
                          json={"name": "Stream", "price_amount": price, "vat_rate_bps": 0,
                                "access": {"quality": "hd"}}), 201)  # fmt: skip
    invited = ok(client.post(f"/v1/events/{event['id']}/co-producers", headers=lead.headers,
                             json={"venue_id": partner.id}), 201)  # fmt: skip
    ok(client.post(f"/v1/co-productions/{invited['id']}/accept", headers=partner.headers))
    share: dict[str, Any] = {"party": {"type": "venue", "id": partner.id}, "bps": 10_000 - lead_bps}
    if guarantee is not None:
        share["guarantee_amount"] = guarantee
    rule = {"platform_fee_bps": 0, "costs": [],
            "shares": [{"party": {"type": "venue", "id": lead.id}, "bps": lead_bps}, share]}  # fmt: skip
    ok(client.put(f"/v1/events/{event['id']}/split-rule", headers=lead.headers, json=rule))
    ok(client.post(f"/v1/events/{event['id']}/publish", headers=lead.headers))
    world = World(client, database, clock, lead, event, [tier],
                  [{"type": "venue", "id": lead.id}, {"type": "venue", "id": partner.id}])  # fmt: skip
    for _ in range(orders):
        world.buy([(0, 1)])
    split(world, "first")
    return world


def make_scene(client: TestClient, database: Database, clock: FixedClock,
               lead: VenueHandle | None = None, partner: VenueHandle | None = None) -> Scene:  # fmt: skip
    lead = lead or make_venue(client, "Opera Lead")
    partner = partner or make_venue(client, "Theatre Partner")
    opera = co_produced(client, database, clock, lead, partner, title="Co-produced opera",
                        price=10_000, lead_bps=6000, guarantee=GUARANTEE, orders=10)  # fmt: skip
    gala = build(client, database, clock, tiers=[(4000, 0, None)], platform_fee_bps=0,
                 costs=[], shares=[7000, 3000], venue=lead, title="The lead's own gala")  # fmt: skip
    for _ in range(4):
        gala.buy([(0, 1)])
    split(gala, "first")
    scene = Scene(lead, partner, opera, gala)
    assert _parts(opera) == {lead.id: 48_250, partner.id: PARTNER_SHARE}
    assert owed(database, lead.id) == {("venue", lead.id): LEAD_PART,
                                       ("performer", scene.singer): SINGER_PART,
                                       ("venue", partner.id): PARTNER_SHARE}  # fmt: skip
    clock.advance(days=40)  # both events ended a month ago: due in December's run
    return scene


def _parts(world: World) -> dict[str, int]:
    return {p["party"]["id"]: p["amount"] for p in world.statement()["parties"]}


def give(database: Database, books: str, party: tuple[str, str], iban: str, holder: str,
         now: datetime) -> None:  # fmt: skip
    """Confirmed payout details of `party` in the books of `books`."""
    with database.unit_of_work() as uow:
        details.change(uow.session, books, *party, holder=holder, iban=iban, bic="",
                       changed_by="stf_alice", now=now)  # fmt: skip
        details.confirm(uow.session, books, *party, confirmed_by="stf_bob", now=now)


def give_all(database: Database, scene: Scene, now: datetime, *, partner_own: bool = True) -> None:
    """The lead's details for itself and its singer, the partner's for itself; and, as
    before co-producers were paid apart, details the lead typed for the partner."""
    lead, partner = scene.lead.id, scene.partner.id
    give(database, lead, ("venue", lead), IBANS[0], "Opera Lead", now)
    give(database, lead, ("performer", scene.singer), IBANS[1], "Lead Singer", now)
    if partner_own:
        give(database, partner, ("venue", partner), PARTNER_IBAN, "Theatre Partner", now)
    give(database, lead, ("venue", partner), LEAD_TYPED_IBAN, "Typed By The Lead", now)


def lines_by_books(database: Database, batch_id: str) -> dict[tuple[str, str], PayoutLine]:
    """The batch's lines by (books, party id): a venue may have a line in its own books
    and one in a lead venue's."""
    with database.unit_of_work() as uow:
        return {(line.venue_id, line.party_id): line for line in runs.lines_of(uow.session, batch_id)}  # fmt: skip


def amounts(database: Database, batch_id: str) -> dict[tuple[str, str], int]:
    return {key: line.amount for key, line in lines_by_books(database, batch_id).items()}


def total_of(database: Database, batch_id: str) -> int:
    with database.unit_of_work() as uow:
        found = uow.session.get(PayoutBatch, batch_id)
        assert found is not None
        return found.total


def approve_and_pay(database: Database, venue_id: str, batch_id: str, now: datetime) -> None:
    with database.unit_of_work() as uow:
        approval.approve(uow.session, venue_id, batch_id, approved_by="stf_bob", now=now)
        runs.mark_paid(uow.session, venue_id, batch_id, executed_on=now.date(),
                       paid_by="stf_bob", now=now)  # fmt: skip


@pytest.fixture
def scene(client: TestClient, database: Database, clock: FixedClock) -> Scene:
    return make_scene(client, database, clock)


def test_the_lead_pays_its_parties_and_the_partner_its_share_through_its_own_run(
    scene: Scene, database: Database, settings: Settings, clock: FixedClock
) -> None:
    lead, partner = scene.lead.id, scene.partner.id
    give_all(database, scene, clock.now(), partner_own=False)
    # Without details of its own the partner's share is held, whatever the lead typed.
    held = run(database, settings, partner, "2026-12", clock.now())
    [line] = lines_by_books(database, held).values()
    assert (line.venue_id, line.status, line.reason, line.left_payable) == (
        lead, "held", "no_details", 50_000)  # fmt: skip
    give(database, partner, ("venue", partner), PARTNER_IBAN, "Theatre Partner", clock.now())

    led = run(database, settings, lead, "2026-12", clock.now())
    assert amounts(database, led) == {(lead, lead): 59_212, (lead, scene.singer): 4_698}
    assert total_of(database, led) == 63_910
    assert owed(database, lead)[("venue", partner)] == 50_000  # left for the partner's run

    theirs = run(database, settings, partner, "2026-12", clock.now())
    [line] = lines_by_books(database, theirs).values()
    # One line: the partner's share, from the lead's books, to the partner's own details
    # (not the ones the lead once typed for it).
    assert (line.venue_id, line.party_type, line.party_id, line.status, line.amount) == (
        lead, "venue", partner, "pending", 50_000)  # fmt: skip
    assert (line.holder, line.iban) == ("Theatre Partner", PARTNER_IBAN)
    assert total_of(database, theirs) == 50_000
    with database.unit_of_work() as uow:
        assert runs.claimed_total(uow.session, line.id) == 50_000

    # payable -> payouts in transit in the lead's books, for both runs; none in the partner's.
    assert set(owed(database, lead).values()) == {0}
    assert account_balance(database, lead, accounts.PAYOUTS_IN_TRANSIT) == -(63_910 + 50_000)
    assert account_balance(database, partner, accounts.PAYOUTS_IN_TRANSIT) == 0
    assert ledger_sums_to_zero(database)
    for venue_id in (lead, partner):  # a second run of either pays nothing
        with pytest.raises(runs.NothingDue):
            run(database, settings, venue_id, "2026-12", clock.now())


def test_mark_paid_and_failed_post_in_the_leads_books_and_the_partner_is_paid_again(
    scene: Scene, client: TestClient, database: Database, settings: Settings,
    clock: FixedClock,
) -> None:  # fmt: skip
    lead, partner = scene.lead.id, scene.partner.id
    give_all(database, scene, clock.now())
    # The partner's own event too (all its own, 3 tickets of €40: 3 * 3,915 = 11,745):
    # its batch then pays from two venues' books.
    own = build(client, database, clock, tiers=[(4000, 0, None)], platform_fee_bps=0,
                costs=[], shares=[10_000], venue=scene.partner, title="Partner's own play")  # fmt: skip
    for _ in range(3):
        own.buy([(0, 1)])
    split(own, "first")
    clock.advance(days=40)

    first = run(database, settings, partner, "2027-01", clock.now())
    assert amounts(database, first) == {(partner, partner): 11_745, (lead, partner): 50_000}
    assert account_balance(database, partner, accounts.PAYOUTS_IN_TRANSIT) == -11_745
    assert account_balance(database, lead, accounts.PAYOUTS_IN_TRANSIT) == -50_000

    approve_and_pay(database, partner, first, clock.now())
    for venue_id in (lead, partner):
        assert account_balance(database, venue_id, accounts.PAYOUTS_IN_TRANSIT) == 0
    assert account_balance(database, lead, accounts.BANK) == -50_000
    assert account_balance(database, partner, accounts.BANK) == -11_745

    # The bank returns the co-production transfer: back to payable, in the lead's books.
    returned = lines_by_books(database, first)[(lead, partner)]
    with database.unit_of_work() as uow:
        runs.mark_failed(uow.session, partner, first, returned.id, reason="account closed",
                         now=clock.now())  # fmt: skip
    assert account_balance(database, lead, accounts.BANK) == 0
    assert account_balance(database, partner, accounts.BANK) == -11_745
    assert owed(database, lead)[("venue", partner)] == 50_000
    assert owed(database, partner)[("venue", partner)] == 0
    assert ledger_sums_to_zero(database)

    led = run(database, settings, lead, "2027-01", clock.now())  # still not the partner's
    assert amounts(database, led) == {(lead, lead): 59_212, (lead, scene.singer): 4_698}
    again = run(database, settings, partner, "2027-01", clock.now())
    assert amounts(database, again) == {(lead, partner): 50_000}
    assert owed(database, lead)[("venue", partner)] == 0


def test_concurrent_runs_of_the_lead_and_the_partner_pay_each_entry_once(
    scene: Scene, client: TestClient, database: Database, settings: Settings,
    clock: FixedClock,
) -> None:  # fmt: skip
    lead, partner = scene.lead.id, scene.partner.id
    give_all(database, scene, clock.now())
    # The other way round too: the lead co-produces the partner's play at 50/50 (2
    # tickets of €40: 7,830, so 3,915 each), so each venue's run reads both venues' books.
    co_produced(client, database, clock, scene.partner, scene.lead, title="Partner's play",
                price=4000, lead_bps=5000, guarantee=None, orders=2)  # fmt: skip
    clock.advance(days=40)
    start = threading.Barrier(4)
    made: dict[str, list[str]] = {lead: [], partner: []}
    nothing: list[str] = []
    errors: list[BaseException] = []

    def one(venue_id: str) -> None:
        start.wait()
        try:
            made[venue_id].append(run(database, settings, venue_id, "2027-01", clock.now()))
        except runs.NothingDue:
            nothing.append(venue_id)
        except BaseException as exc:  # a deadlock would land here
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(v,)) for v in (lead, partner, lead, partner)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert sorted(nothing) == sorted([lead, partner])
    [led], [theirs] = made[lead], made[partner]
    assert amounts(database, led) == {(lead, lead): 59_212, (lead, scene.singer): 4_698,
                                      (partner, lead): 3_915}  # fmt: skip
    assert amounts(database, theirs) == {(partner, partner): 3_915, (lead, partner): 50_000}
    assert account_balance(database, lead, accounts.PAYOUTS_IN_TRANSIT) == -(63_910 + 50_000)
    assert account_balance(database, partner, accounts.PAYOUTS_IN_TRANSIT) == -(3_915 + 3_915)
    with database.engine.connect() as conn:
        claims, distinct = conn.execute(
            text("SELECT count(*), count(DISTINCT entry_id) FROM payout_claims")
        ).one()
    assert claims == distinct > 0
    assert set(owed(database, lead).values()) == set(owed(database, partner).values()) == {0}
    assert ledger_sums_to_zero(database)


def test_a_share_the_lead_claimed_before_the_change_is_not_paid_twice(
    scene: Scene, database: Database, settings: Settings, clock: FixedClock
) -> None:
    lead, partner = scene.lead.id, scene.partner.id
    give_all(database, scene, clock.now())
    # What a lead's run made before co-producers were paid apart: a line for the
    # partner in the lead's batch, claiming its entries, payable -> payouts in transit.
    now = clock.now()
    with database.unit_of_work() as uow:
        session = uow.session
        session.add(PayoutBatch(id="pob_legacy", venue_id=lead, currency="EUR", period="2026-11",
                                cutoff=now, status="awaiting_approval", total=50_000, rail="sepa",
                                created_by="stf_alice", created_at=now))  # fmt: skip
        session.flush()
        payable = accounts.party({"type": "venue", "id": partner})
        account_id = session.execute(text(
            "SELECT id FROM ledger_accounts WHERE venue_id = :v AND code = :c"
        ), {"v": lead, "c": payable}).scalar_one()  # fmt: skip
        session.add(PayoutLine(id="pol_legacy", batch_id="pob_legacy", venue_id=lead,
                               account_id=account_id, party_type="venue", party_id=partner,
                               party_name="Theatre Partner", status="pending", amount=50_000,
                               holder="Typed By The Lead", iban=LEAD_TYPED_IBAN))  # fmt: skip
        session.flush()
        session.execute(text("INSERT INTO payout_claims (entry_id, line_id) "
                             "SELECT id, 'pol_legacy' FROM ledger_entries WHERE account_id = :a"),
                        {"a": account_id})  # fmt: skip
        post(session, venue_id=lead, reference="payout:pob_legacy", currency="EUR", now=now,
             lines=[Line(payable, 50_000, ("venue", partner)),
                    Line(accounts.PAYOUTS_IN_TRANSIT, -50_000)])  # fmt: skip

    with pytest.raises(runs.NothingDue):  # the lead's batch holds it: not paid again
        run(database, settings, partner, "2026-12", clock.now())
    # The legacy transfer fails: the share comes back, and the partner's run pays it.
    with database.unit_of_work() as uow:
        runs.mark_failed(uow.session, lead, "pob_legacy", "pol_legacy", reason="wrong payee",
                         now=clock.now())  # fmt: skip
    theirs = run(database, settings, partner, "2026-12", clock.now())
    assert amounts(database, theirs) == {(lead, partner): 50_000}
    assert (lead, partner) not in amounts(database, run(database, settings, lead, "2026-12",
                                                        clock.now()))  # fmt: skip
    assert account_balance(database, lead, accounts.PAYOUTS_IN_TRANSIT) == -(63_910 + 50_000)
    assert ledger_sums_to_zero(database)


def test_the_partners_batch_advice_and_file_show_nothing_else_of_the_lead(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    other = browser(client, "198.51.100.61")
    pia = admin_signed_in(other, queue, database, settings, clock.now(), email="pia@example.org",
                          name="Theatre Partner", admin_name="Pia Partner")  # fmt: skip
    ada = admin_signed_in(client, queue, database, settings, clock.now(), name="Opera Lead")
    scene = make_scene(client, database, clock,
                       VenueHandle(ada.venue_id, ada.key, bearer(ada.key)),
                       VenueHandle(pia.venue_id, pia.key, bearer(pia.key)))  # fmt: skip
    lead, partner = scene.lead.id, scene.partner.id
    for browsing, email in ((other, pia.email), (client, ada.email)):  # a month went by
        assert log_in(browsing, email).status_code == 303
    give_all(database, scene, clock.now())
    led = run(database, settings, lead, "2026-12", clock.now())
    theirs = run(database, settings, partner, "2026-12", clock.now())
    [line] = lines_by_books(database, theirs).values()
    singer_name = str(scene.gala.parties[1]["name"])
    lead_only = (singer_name, "Lead Singer", "The lead's own gala", "592.12", "46.98")

    page = other.get(f"/console/finance/payouts/{theirs}")
    assert page.status_code == 200
    assert f'id="line-{line.id}"' in page.text and "500.00" in page.text
    assert "share of co-productions with Opera Lead" in page.text
    assert 'aria-label="Mark as failed: the transfer to Theatre Partner · Opera Lead"' in page.text
    assert not [shown for shown in lead_only if shown in page.text]
    assert "Theatre Partner" not in client.get(f"/console/finance/payouts/{led}").text
    # The lead's batch is not the partner's to open, nor its lines' advices.
    assert other.get(f"/console/finance/payouts/{led}").status_code == 404
    led_line = lines_by_books(database, led)[(lead, scene.singer)]
    advice_of_lead = f"/console/finance/payouts/{led}/lines/{led_line.id}/advice.html"
    assert other.get(advice_of_lead).status_code == 404

    # The advice names the co-produced event only, as paid from the lead's books.
    advice = other.get(f"/console/finance/payouts/{theirs}/lines/{line.id}/advice.html")
    assert advice.status_code == 200
    assert "Co-produced opera" in advice.text and "Opera Lead" in advice.text
    assert "The lead's own gala" not in advice.text and singer_name not in advice.text

    # The SEPA file: one transfer, to the partner's own account.
    with database.unit_of_work() as uow:
        approval.approve(uow.session, partner, theirs, approved_by="stf_bob", now=clock.now())
    sepa = other.get(f"/console/finance/payouts/{theirs}/sepa.xml")
    assert sepa.status_code == 200
    validate(sepa.content)
    assert b">500.00<" in sepa.content and PARTNER_IBAN.encode() in sepa.content
    for shown in (singer_name, "Lead Singer", IBANS[0], IBANS[1], LEAD_TYPED_IBAN):
        assert shown.encode() not in sepa.content
