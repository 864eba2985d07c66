"""A party's statement in the console, as a page and as a PDF, for a hybrid evening
whose bundle tickets carry VAT at two rates (9 % admission, 21 % stream).

The PDF is read back (pypdf): it names the performers, Czech and Russian names
included (fonts beyond Latin-1), and its totals are the HTML page's and the ledger's.
The event's statement and the party statement carry the VAT per rate, worked out by
hand below. Only finance and admin of the venue see them, and only its own parties."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.db import Database
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.kit.clock import FixedClock
from streamsvc.web.formatting import money_code
from tests.conftest import RecordingQueue
from tests.factories import VenueHandle, bearer, make_tier, make_venue, ok
from tests.finance.world import World, build
from tests.staff.helpers import admin_signed_in, browser, member_signed_in

NOVEMBER = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}
DVORAK, TCHAIKOVSKY = "Antonín Dvořák", "Пётр Чайковский"
BUNDLE = [{"label": "Admission", "amount": 1200, "vat_rate_bps": 900},
          {"label": "Stream", "amount": 1800, "vat_rate_bps": 2100}]  # fmt: skip
# The orders below, their VAT by hand (VAT in P at r: P * r / (10000 + r), nearest cent):
#   2 bundles (6000): admission 2400 -> 198.17 -> 198; stream 3600 -> 624.79 -> 625
#   a stream ticket (1950) and a bundle: 1950 -> 338.43 -> 338; 1200 -> 99.08 -> 99;
#       1800 -> 312.40 -> 312
#   a bundle (3000): 99; 312
VAT_9, VAT_21 = 198 + 99 + 99, 625 + 338 + 312 + 312


@pytest.fixture
def statement_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"order_rate_per_ip": 100_000,
                                       "order_rate_per_email": 100_000})  # fmt: skip


@pytest.fixture
def client(
    statement_settings: Settings, clock: FixedClock, queue: RecordingQueue
) -> Iterator[TestClient]:
    with TestClient(create_app(statement_settings, clock, queue=queue),
                    raise_server_exceptions=False) as c:  # fmt: skip
        yield c


@pytest.fixture
def evening(client: TestClient, queue: Any, database: Database, statement_settings: Settings,
            clock: FixedClock) -> World:  # fmt: skip
    """The admin signed in on `client`; a hybrid evening sold and reconciled in November."""
    clock.at = NOVEMBER
    admin = admin_signed_in(client, queue, database, statement_settings, clock.now(),
                            name="Rudolfinum")  # fmt: skip
    venue = VenueHandle(admin.venue_id, admin.key, bearer(admin.key))
    world = build(client, database, clock, tiers=[(1950, 2100, None)], venue=venue,
                  platform_fee_bps=500, costs=[], shares=[4000, 3000, 3000],
                  title="Slavonic Dances")  # fmt: skip
    for party, name in zip(world.parties[1:], (DVORAK, TCHAIKOVSKY), strict=True):
        ok(client.patch(f"/v1/performers/{party['id']}", json={"name": name},
                        headers=venue.headers))  # fmt: skip
        party["name"] = name
    world.tiers.append(make_tier(client, venue, world.event["id"], name="Hall + stream",
                                 price_amount=3000, components=BUNDLE, capacity=100,
                                 access={"quality": "hd", "in_venue": True}))  # fmt: skip
    for lines in ([(1, 2)], [(0, 1), (1, 1)], [(1, 1)]):
        world.buy(lines)
    reconcile_event(database, world.books, world.event["id"], NOVEMBER, period="2026-11")
    return world


def _owed(database: Database, party: dict[str, Any]) -> int:
    """What the ledger says the party received from splits."""
    with database.engine.connect() as conn:
        return -int(conn.execute(text(
            "SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e "
            "JOIN ledger_accounts a ON a.id = e.account_id WHERE a.code = :c"
        ), {"c": f"payable:{party['type']}:{party['id']}"}).scalar_one())  # fmt: skip


def _plain(words: str) -> str:
    """Spaces as spaces (Babel puts no-break spaces between a currency and its amount)."""
    return re.sub(r"[\s\u00a0\u202f]+", " ", words)


def _pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return _plain(" ".join(page.extract_text() for page in reader.pages))


def test_the_event_statement_carries_the_vat_per_rate(evening: World) -> None:
    found = evening.statement()
    assert found["vat_rates"] == [
        {"rate_bps": 900, "vat": VAT_9},
        {"rate_bps": 2100, "vat": VAT_21},
    ]
    assert found["vat"] == VAT_9 + VAT_21 == 1983
    # Gross 6000 + 4950 + 3000; what the three parties share sums to the distributable.
    assert found["gross"] == 13_950
    assert sum(party["amount"] for party in found["parties"]) == found["distributable"]


def test_a_performer_statement_as_pdf_names_them_and_holds_the_ledgers_totals(
    client: TestClient, evening: World, database: Database
) -> None:
    for party in evening.parties[1:]:
        base = f"/console/finance/statements/performer/{party['id']}"
        page = client.get(f"{base}.html", params=PERIOD)
        assert page.status_code == 200, page.text
        assert "'sha256-" in page.headers["content-security-policy"]  # its inline style only
        assert page.headers["cache-control"].startswith("no-store")
        pdf = client.get(f"{base}.pdf", params=PERIOD)
        assert pdf.status_code == 200, pdf.text
        assert pdf.headers["content-type"] == "application/pdf"
        assert f"statement-{party['id']}-2026-11-01-2026-11-30.pdf" in (
            pdf.headers["content-disposition"])  # fmt: skip
        words = _pdf_text(pdf.content)
        owed = _owed(database, party)
        assert owed > 0
        total = _plain(money_code(owed, "EUR", "en"))
        shown = re.search(r'id="total-party_amount"><strong>([^<]+)<', page.text)
        assert shown and _plain(shown.group(1)) == total
        assert party["name"] in words and "Slavonic Dances" in words and "Rudolfinum" in words
        assert total in words
        # The VAT per rate, in the PDF as on the page.
        for rate, vat in (("9%", VAT_9), ("21%", VAT_21)):
            assert f"{rate} {_plain(money_code(vat, 'EUR', 'en'))}" in words
        assert _plain(money_code(VAT_9 + VAT_21, "EUR", "en")) in words


def test_the_venue_reads_its_own_statement_in_its_language(
    client: TestClient, evening: World
) -> None:
    venue_id = evening.venue.id
    client.cookies.set("lang", "nl")
    page = client.get(f"/console/finance/statements/venue/{venue_id}.html", params=PERIOD)
    assert page.status_code == 200 and "Afrekening voor Rudolfinum" in page.text
    pdf = client.get(f"/console/finance/statements/venue/{venue_id}.pdf", params=PERIOD)
    assert "Afrekening voor Rudolfinum" in _pdf_text(pdf.content)


def test_only_finance_and_admin_of_the_venue_see_its_parties(
    client: TestClient, evening: World, queue: Any, database: Database,
    statement_settings: Settings, clock: FixedClock,
) -> None:  # fmt: skip
    performer = evening.parties[1]["id"]
    url = f"/console/finance/statements/performer/{performer}.pdf"
    other = make_venue(client, name="Another House")
    for missing in (f"venue/{other.id}", "performer/prf_unknown", "sponsor/spn_1"):
        answer = client.get(f"/console/finance/statements/{missing}.html", params=PERIOD)
        assert answer.status_code == 404, missing
    bad = client.get(url, params={"from": "2026-11-31"})
    assert bad.status_code == 422
    empty = client.get(url, params={"from": "2026-12-01", "to": "2026-11-01"})
    assert empty.status_code == 422
    finance = member_signed_in(client, queue, database, statement_settings, clock.now(),
                               "fred@example.org", "finance")  # fmt: skip
    assert finance.get(url, params=PERIOD).status_code == 200
    door = member_signed_in(client, queue, database, statement_settings, clock.now(),
                            "dora@example.org", "door", address="198.51.100.8")  # fmt: skip
    assert door.get(url, params=PERIOD).status_code == 403
    nobody = browser(client, "198.51.100.9")  # no console session
    answer = nobody.get(url, params=PERIOD, follow_redirects=False)
    assert answer.status_code == 303 and "/console/login" in answer.headers["location"]
