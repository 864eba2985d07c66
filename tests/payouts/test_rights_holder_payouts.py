"""A recording's rights holders paid through the payout runs, as performers are: the
recording's split entries are due once posted before the run's cutoff, every party is
paid exactly its split, once, and a refund after the payout is netted by a later run.

The figures are worked out by hand from the archive's rule (tests/recordings/money.py):
purchases at 1299 and rentals at 499, 21 % VAT included, Stripe's card fee per charge
25 + amount * 15 // 1000 (tests/finance/books.py), the platform's 5 % of revenue ex VAT,
€20.00 of restoration costs before the shares, then 50/30/20 (estate, label, venue)
through kit.money.allocate (largest remainder, ties to the earlier share).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.finance import accounts
from streamsvc.finance.console_reading import party_balances
from streamsvc.kit.clock import FixedClock
from streamsvc.payouts import advice, approval, details, runs, setup
from tests.factories import VenueHandle, bearer, make_venue, ok
from tests.harness import Infrastructure
from tests.payouts.conftest import OPERATOR
from tests.payouts.money import IBANS, account_balance, ledger_sums_to_zero, lines, owed, run
from tests.payouts.test_sepa_and_advice import NS, Capturing, cents, validate
from tests.recordings.helpers import make_holder
from tests.recordings.money import Archive, open_archive
from tests.staff.helpers import admin_signed_in, csrf, log_in, member_signed_in, post

# 7 purchases and 3 rentals, split on 1 December 2026:
#   gross        7 * 1299 + 3 * 499                                     = 10590
#   VAT          a purchase: allocate(1299, [10000, 2100]) -> 225;
#                a rental: allocate(499, [10000, 2100]) -> 87;  7 * 225 + 3 * 87 = 1836
#   revenue ex VAT                                    10590 - 1836      =  8754
#   card fees    purchase 25 + 19 = 44, rental 25 + 7 = 32; 7 * 44 + 3 * 32 =  404
#   platform     allocate(8754, [500, 9500]) -> 437.7 -> 438
#   left         8754 - 404 - 438 = 7912; restoration 2000 ->             5912
#   shares       allocate(5912, [5000, 3000, 2000]) = 2956, 1773.6 -> 1774, 1182.4 -> 1182
FIRST = {"estate": 2956, "label": 1774, "venue": 1182}
# One purchase refunded in full after the payout (split in January): its VAT (225) is
# no longer due, its card fee stays; revenue ex VAT 8754 - 1299 + 225 = 7680, platform
# allocate(7680, [500, 9500]) = 384, left 7680 - 404 - 384 - 2000 = 4892, shared
# 2446 / 1467.6 -> 1468 / 978.4 -> 978: each party's part of the refund is negative.
REFUNDED = {"estate": 2446 - 2956, "label": 1468 - 1774, "venue": 978 - 1182}
# Four purchases more (split in February), on top of that: gross 10590 + 4 * 1299 =
# 15786, refunds 1299, VAT 1611 + 4 * 225 = 2511, revenue ex VAT 11976, fees 404 + 4 *
# 44 = 580, platform allocate(11976, [500, 9500]) = 598.8 -> 599, left 11976 - 580 -
# 599 - 2000 = 8797, shared 4398.5 -> 4399 (tie: the earlier share), 2639.1 -> 2639,
# 1759.4 -> 1759. What is owed after the first payout: that, less the first payout.
LATER = {"estate": 4399 - 2956, "label": 2639 - 1774, "venue": 1759 - 1182}


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    return infra.settings(recording_paid_sales=True, order_rate_per_ip=100_000,
                          order_rate_per_email=100_000, **OPERATOR)  # fmt: skip


def _parties(archive: Archive) -> dict[str, tuple[str, str]]:
    return {
        "estate": ("rights_holder", archive.estate["id"]),
        "label": ("rights_holder", archive.label["id"]),
        "venue": ("venue", archive.venue.id),
    }


def _owed(database: Database, archive: Archive) -> dict[str, int]:
    found = owed(database, archive.venue.id)
    return {name: found[party] for name, party in _parties(archive).items()}


def _by_name(archive: Archive, found: dict[str, Any]) -> dict[str, Any]:
    """A batch's lines by the parties' names in this module."""
    ids = {party_id: name for name, (_, party_id) in _parties(archive).items()}
    return {ids[party_id]: line for party_id, line in found.items()}


def _give_details(database: Database, archive: Archive, now: datetime) -> None:
    """Details for the estate, the label and the venue: changed by Alice, confirmed by Bob."""
    with database.unit_of_work() as uow:
        for n, (party_type, party_id) in enumerate(_parties(archive).values()):
            details.change(uow.session, archive.venue.id, party_type, party_id,
                           holder=f"Holder {n}", iban=IBANS[n], bic="", changed_by="stf_alice",
                           now=now)  # fmt: skip
            details.confirm(uow.session, archive.venue.id, party_type, party_id,
                            confirmed_by="stf_bob", now=now)  # fmt: skip


def test_rights_holders_are_paid_their_split_once_and_a_later_refund_is_netted(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    archive = open_archive(client, database, clock)
    ok(client.patch(f"/v1/rights-holders/{archive.label['id']}", headers=archive.venue.headers,
                    json={"email": "royalties@riverside.example.org"}))  # fmt: skip
    for kind in ["purchase"] * 7 + ["rental"] * 3:
        archive.sell(kind)
    archive.reconcile("2026-12")
    # The hand figures are what the ledger holds in the parties' payable accounts.
    assert _owed(database, archive) == FIRST
    with database.unit_of_work() as uow:  # the finance page's list names them
        balances = party_balances(uow.session, archive.venue.id)
    assert {(b.party_type, b.name, b.payable) for b in balances} == {
        ("rights_holder", "Estate of Bill Evans", 2956),
        ("rights_holder", "Riverside Records", 1774),
        ("venue", "De Nederlandse Opera", 1182),
    }
    _give_details(database, archive, clock.now())
    venue_id = archive.venue.id

    # Split today: inside the delay (refunds may still come), nothing is due yet.
    with pytest.raises(runs.NothingDue):
        run(database, settings, venue_id, "2026-12", clock.now())
    clock.advance(days=40)  # 10 January 2027: the cutoff is 27 December
    first = run(database, settings, venue_id, "2026-12", clock.now())
    paid = _by_name(archive, lines(database, first))
    assert {name: (line.status, line.amount) for name, line in paid.items()} == {
        name: ("pending", amount) for name, amount in FIRST.items()
    }
    assert {name: line.party_name for name, line in paid.items()} == {
        "estate": "Estate of Bill Evans", "label": "Riverside Records",
        "venue": "De Nederlandse Opera",
    }  # fmt: skip
    with database.unit_of_work() as uow:
        claimed = {name: runs.claimed_total(uow.session, line.id) for name, line in paid.items()}
    assert claimed == FIRST
    assert _owed(database, archive) == {"estate": 0, "label": 0, "venue": 0}
    assert account_balance(database, venue_id, accounts.PAYOUTS_IN_TRANSIT) == -5912
    with pytest.raises(runs.NothingDue):  # nothing is paid twice
        run(database, settings, venue_id, "2026-12", clock.now())

    with database.unit_of_work() as uow:
        approval.approve(uow.session, venue_id, first, approved_by="stf_bob", now=clock.now())
        made = approval.download(uow.session, venue_id, first, rail=setup.rail(settings),
                                 now=clock.now())  # fmt: skip
    document = validate(made.content)
    transfers = {
        tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS): tx
        for tx in document.findall("p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf", NS)
    }
    assert {
        name: (
            cents(transfers[line.id].findtext("p:Amt/p:InstdAmt", namespaces=NS)),
            transfers[line.id].findtext("p:Cdtr/p:Nm", namespaces=NS),
            transfers[line.id].findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=NS),
            transfers[line.id].findtext("p:RmtInf/p:Ustrd", namespaces=NS),
        )
        for name, line in paid.items()
    } == {
        "estate": (2956, "Holder 0", IBANS[0],
                   f"Statement 2026-12 De Nederlandse Opera - Estate of Bill Evans - ref "
                   f"{paid['estate'].id}"),
        "label": (1774, "Holder 1", IBANS[1],
                  f"Statement 2026-12 De Nederlandse Opera - Riverside Records - ref "
                  f"{paid['label'].id}"),
        "venue": (1182, "Holder 2", IBANS[2],
                  f"Statement 2026-12 De Nederlandse Opera - De Nederlandse Opera - ref "
                  f"{paid['venue'].id}"),
    }  # fmt: skip
    with database.unit_of_work() as uow:
        runs.mark_paid(uow.session, venue_id, first, executed_on=clock.now().date(),
                       paid_by="stf_bob", now=clock.now())  # fmt: skip
    sender = Capturing()
    # The rights holders are mailed their advice at their own addresses; the venue has
    # no finance members here.
    assert advice.send_advices(database, settings, sender, first, clock.now()) == 2
    mails = {str(mail["To"]): mail for mail in sender.messages}
    assert set(mails) == {"estate@example.org", "royalties@riverside.example.org"}
    body = mails["royalties@riverside.example.org"].get_body(("html",))
    assert body is not None
    html = str(body.get_content())
    assert "Riverside Records" in html and "Bill Evans Trio, live at the Bimhuis" in html
    # A Dutch venue: nl amounts and dates; the recording's date is the day it was recorded.
    assert "<td>12 maart 1969</td>" in html and "<strong>EUR 17,74</strong>" in html
    with database.unit_of_work() as uow:
        [statement] = advice.settled(uow.session, paid["label"].id)
    assert (statement.event_title, statement.event_date.isoformat(), statement.split_period,
            statement.amount) == ("Bill Evans Trio, live at the Bimhuis", "1969-03-12",
                                  "2026-12", 1774)  # fmt: skip

    # A refund after the payout: each party's part of it is a negative entry.
    archive.refund(archive.orders[0], 1299)
    archive.reconcile("2027-01")
    assert _owed(database, archive) == REFUNDED == {"estate": -510, "label": -306, "venue": -204}
    clock.advance(days=41)  # 20 February: January's split is due, and only carries
    with pytest.raises(runs.NothingDue):
        run(database, settings, venue_id, "2027-01", clock.now())
    for _ in range(4):
        archive.sell("purchase")
    archive.reconcile("2027-02")
    assert _owed(database, archive) == LATER == {"estate": 1443, "label": 865, "venue": 577}
    clock.advance(days=28)  # 20 March: the cutoff is 1 March
    second = run(database, settings, venue_id, "2027-02", clock.now())
    netted = _by_name(archive, lines(database, second))
    assert {name: (line.status, line.amount, line.left_payable, line.reason)
            for name, line in netted.items()} == {
        "estate": ("pending", 1443, 0, ""),  # 1953 earned in February, less 510 refunded
        "label": ("carried", 0, 865, "below_threshold"),  # under the €10.00 threshold
        "venue": ("carried", 0, 577, "below_threshold"),
    }  # fmt: skip
    assert _owed(database, archive) == {"estate": 0, "label": 865, "venue": 577}
    assert ledger_sums_to_zero(database)


PARTIES = "/console/finance/parties"


def test_finance_confirms_a_rights_holders_details_with_four_eyes_and_no_other_venues(
    client: TestClient, queue: Any, database: Database, settings: Settings, clock: FixedClock
) -> None:
    admin = admin_signed_in(client, queue, database, settings, clock.now())
    venue = VenueHandle(admin.venue_id, admin.key, bearer(admin.key))
    estate = make_holder(client, venue, "Estate of Bill Evans")
    elsewhere = make_holder(client, make_venue(client, "Concertgebouw"), "Estate of Elsewhere")
    assert log_in(client, admin.email).status_code == 303
    fred = member_signed_in(client, queue, database, settings, clock.now(), "fred@example.org",
                            "finance")  # fmt: skip
    page = f"{PARTIES}/rights_holder/{estate['id']}"

    listed = client.get(PARTIES)
    assert listed.status_code == 200
    assert f'<a href="{page}">Estate of Bill Evans</a>' in listed.text
    assert "Estate of Elsewhere" not in listed.text
    assert "Payout details of Estate of Bill Evans" in client.get(page).text
    token = csrf(client, PARTIES)
    saved = post(client, page, {"holder": "Stichting Evans", "iban": IBANS[0], "bic": ""},
                 token=token)  # fmt: skip
    assert saved.status_code == 303, saved.text
    own = post(client, f"{page}/confirm", {}, token=token)
    assert own.status_code == 403 and "Another finance member" in own.text
    with database.unit_of_work() as uow:
        found = details.details_of(uow.session, venue.id, "rights_holder", estate["id"])
        assert found is not None and details.hold_reason(found) == "unconfirmed"
    assert post(fred, f"{page}/confirm", {}, token=csrf(fred, PARTIES)).status_code == 303
    shown = client.get(page).text
    assert 'id="details-status">Confirmed<' in shown and "NL** **** **** **43 00" in shown

    # Another venue's rights holder, or none at all, is no party of this venue.
    other = f"{PARTIES}/rights_holder/{elsewhere['id']}"
    assert client.get(other).status_code == 404
    assert post(client, other, {"holder": "X", "iban": IBANS[1], "bic": ""},
                token=token).status_code == 404  # fmt: skip
    assert client.get(f"{PARTIES}/rights_holder/rhd_nobody").status_code == 404
    with database.unit_of_work() as uow:
        assert details.details_of(uow.session, venue.id, "rights_holder", elsewhere["id"]) is None
