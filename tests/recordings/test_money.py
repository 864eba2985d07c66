"""A recording's money through the finance road: collected from Stripe, posted, split to
its rights holders under its rule, checked against Stripe; the figures worked out by
hand from the product's rules, not by the code under test.

The archive (tests/recordings/money.py): rental €4.99, purchase €12.99, both at 21 %
VAT; the platform takes 5 % of revenue ex VAT; €20.00 of restoration is recouped
before the shares; the estate 50 %, the label 30 %, the venue 20 %. Stripe's card fee
is 25 + 1.5 % (rounded down) per charge; a refund's fee is 0 and Stripe keeps the
charge's fee.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.finance.recent import start_recent_jobs, unknown_charges
from streamsvc.kit.clock import FixedClock
from streamsvc.ledger.service import balances
from tests.factories import ok
from tests.harness import Infrastructure
from tests.recordings.money import Archive, open_archive


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    settings: Settings = infra.settings(order_rate_per_email=20, recording_paid_sales=True)
    return settings


def _held(archive: Archive) -> dict[str, int]:
    """The recording's accounts and the parties', by a short name."""
    rec, venue = archive.recording["id"], archive.venue.id
    names = {
        f"sales:{rec}": "sales", f"refunds:{rec}": "refunds", f"stripe_fees:{rec}": "fees",
        "vat_payable": "vat", "platform_fees": "platform", f"costs_recouped:{rec}:0": "costs",
        f"distribution:{rec}": "distribution", "stripe_balance": "stripe_balance",
        f"payable:rights_holder:{archive.estate['id']}": "estate",
        f"payable:rights_holder:{archive.label['id']}": "label",
        f"payable:venue:{venue}": "venue",
    }  # fmt: skip
    with archive.database.unit_of_work() as uow:
        found = balances(uow.session, venue, "EUR", list(names))
    return {names[code]: amount for code, amount in found.items() if code in names}


def _split_postings(archive: Archive) -> list[dict[str, Any]]:
    with archive.database.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT sp.event_id, sp.version, sp.orders, sp.gross, sp.refunds, sp.vat, "
            "sp.stripe_fees, sp.platform_fee, sp.costs, sp.distributable, sp.vat_rates, "
            "t.reference, t.recording_id FROM split_postings sp "
            "JOIN ledger_transactions t ON t.id = sp.transaction_id "
            "WHERE sp.recording_id = :r ORDER BY sp.posted_at, t.reference"
        ), {"r": archive.recording["id"]})  # fmt: skip
        return [dict(row._mapping) for row in rows]


def test_a_recordings_sales_are_split_to_its_rights_holders_to_the_cent(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    archive = open_archive(client, database, clock)
    for kind in ("rental", "rental", "rental", "purchase", "purchase"):
        archive.sell(kind)
    outcome = archive.reconcile("2026-12")
    assert (outcome.asked, outcome.stored, outcome.posted, outcome.splits, outcome.findings) == (
        5, 5, 5, 1, 0)  # fmt: skip

    # By hand. Gross 3 x 499 + 2 x 1299 = 4095. VAT per order, the larger remainder of
    # price x 21/121: 86.60 -> 87 and 225.45 -> 225, so 3 x 87 + 2 x 225 = 711; revenue
    # ex VAT 3384. Fees 3 x (25 + 7) + 2 x (25 + 19) = 184. Platform 5 % of 3384 = 169.2
    # -> 169. Left 3384 - 184 - 169 = 3031; restoration 2000 recouped; distributable 1031:
    # 515.5 / 309.3 / 206.2 -> 515 / 309 / 206 and the cent left to the largest
    # remainder, the estate's: 516 / 309 / 206.
    assert _held(archive) == {
        "sales": -4095, "refunds": 0, "fees": 184, "vat": -711, "platform": -169,
        "costs": -2000, "distribution": 2000 + 169 + 711 + 1031,
        "stripe_balance": 4095 - 184,
        "estate": -516, "label": -309, "venue": -206,
    }  # fmt: skip
    [first] = _split_postings(archive)
    assert first == {
        "event_id": None, "version": 1, "orders": 5, "gross": 4095, "refunds": 0, "vat": 711,
        "stripe_fees": 184, "platform_fee": 169, "costs": 2000, "distributable": 1031,
        "vat_rates": {"2100": 711}, "reference": f"split:{archive.recording['id']}:v1:2026-12",
        "recording_id": archive.recording["id"],
    }  # fmt: skip

    # Run again: nothing new, nothing posted twice.
    again = archive.reconcile("2026-12-again")
    assert (again.stored, again.posted, again.splits, again.findings) == (0, 0, 0, 0)

    # A purchase refunded in full at Stripe after the split. Now: gross 4095, refunds
    # 1299, VAT 3 x 87 + 225 = 486 (the refunded order keeps none), revenue ex VAT 2310;
    # fees still 184 (Stripe keeps the charge's fee); platform 5 % = 115.5, a tie of
    # remainders that goes to the earlier part, the platform: 116. Left 2310 - 184 -
    # 116 = 2010; restoration 2000; distributable 10: 5 / 3 / 2. The split of January
    # posts the difference: each party gives back what it no longer earns.
    archive.refund(archive.orders[3], 1299)
    later = archive.reconcile("2027-01")
    assert (later.stored, later.posted, later.splits, later.findings) == (1, 1, 1, 0)
    held = _held(archive)
    assert {name: held[name] for name in ("refunds", "vat", "platform", "costs")} == {
        "refunds": 1299, "vat": -486, "platform": -116, "costs": -2000}  # fmt: skip
    assert (held["estate"], held["label"], held["venue"]) == (-5, -3, -2)
    january = _split_postings(archive)[1]
    assert (january["refunds"], january["vat"], january["platform_fee"], january["costs"],
            january["distributable"]) == (1299, 486 - 711, 116 - 169, 0, 10 - 1031)  # fmt: skip

    # The ledger ties out with Stripe's books, account by account (no finding), and the
    # recording's transactions name it and no event.
    with database.engine.connect() as conn:
        kinds = conn.execute(text(
            "SELECT count(*) FILTER (WHERE event_id IS NULL AND recording_id = :r), count(*) "
            "FROM ledger_transactions WHERE reference LIKE 'bt:%' OR reference LIKE 'split:%'"
        ), {"r": archive.recording["id"]}).one()  # fmt: skip
    assert tuple(kinds) == (5 + 1 + 2, 5 + 1 + 2)
    findings = ok(client.get("/v1/finance/findings", headers=archive.venue.headers))["data"]
    assert findings == []


def test_beat_reconciles_a_recording_with_recent_sales(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    archive = open_archive(client, database, clock)
    order = archive.sell("purchase")
    later = clock.now() + timedelta(hours=1)
    with database.unit_of_work() as uow:
        started = start_recent_jobs(uow.session, archive.books, later, timedelta(days=3))
    [job_id] = started
    job = ok(client.get(f"/v1/jobs/{job_id}", headers=archive.venue.headers))
    assert (job["subject_id"], job["status"]) == (archive.recording["id"], "queued")
    assert job["result"] == {"events": [], "recordings": [archive.recording["id"]]}
    # A charge Stripe has that we have not collected is traced to its recording.
    with database.unit_of_work() as uow:
        found, findings = unknown_charges(uow.session, archive.books, later, timedelta(days=3650))
    assert (found, findings) == ({(archive.venue.id, "recording", archive.recording["id"])}, 0)
    assert order["payment"]["payment_intent_id"] in archive.books.charges
