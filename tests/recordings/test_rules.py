"""The recording's rules without HTTP: licence codes and their canonical URLs, durations,
the split preview's arithmetic, the console's duration input, and what PostgreSQL
itself refuses of offers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from starlette.testclient import TestClient

from streamsvc.errors import ValidationFailed
from streamsvc.recordings import console_forms
from streamsvc.recordings.licences import ALL_RIGHTS_RESERVED, CODES, LICENCES, licence
from streamsvc.recordings.models import RecordingSplitRule
from streamsvc.recordings.opendata import iso_duration
from streamsvc.recordings.rights import preview
from streamsvc.recordings.schemas import OffersWrite, RecordingSplitRuleWrite
from tests.factories import make_venue
from tests.recordings.helpers import RENTAL, make_recording

_CANONICAL = re.compile(
    r"https://creativecommons\.org/(licenses/(by|by-sa|by-nd|by-nc|by-nc-sa|by-nc-nd)/4\.0"
    r"|publicdomain/(zero|mark)/1\.0)/"
)


def test_every_licence_url_is_the_canonical_creative_commons_deed() -> None:
    assert set(CODES) == {"cc-by-4.0", "cc-by-sa-4.0", "cc-by-nd-4.0", "cc-by-nc-4.0",
                          "cc-by-nc-sa-4.0", "cc-by-nc-nd-4.0", "cc0-1.0", "pdm-1.0",
                          ALL_RIGHTS_RESERVED}  # fmt: skip
    for code, found in LICENCES.items():
        assert found.code == code
        if code == ALL_RIGHTS_RESERVED:
            assert found.url is None and not found.creative_commons
            continue
        assert found.url is not None and _CANONICAL.fullmatch(found.url), found.url
    urls = [found.url for found in LICENCES.values() if found.url]
    assert len(set(urls)) == len(urls)
    # The deed's path names the licence its code names.
    assert licence("cc-by-nc-sa-4.0").url == "https://creativecommons.org/licenses/by-nc-sa/4.0/"
    assert licence("cc0-1.0").url == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert licence("pdm-1.0").url == "https://creativecommons.org/publicdomain/mark/1.0/"
    for code in CODES:
        if code.startswith("cc-"):
            assert licence(code).url == (f"https://creativecommons.org/licenses/{code[3:-4]}/4.0/")
            assert licence(code).short == "CC " + code[3:-4].upper() + " 4.0"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(5520, "PT1H32M"), (3600, "PT1H"), (45, "PT45S"), (2745, "PT45M45S"), (3601, "PT1H1S")],
)
def test_durations_are_iso_8601(seconds: int, expected: str) -> None:
    assert iso_duration(seconds) == expected


def test_the_console_reads_durations_exactly() -> None:
    assert console_forms.seconds("1:32:00", "d") == 5520
    assert console_forms.seconds("0:45", "d") == 2700
    assert console_forms.duration_input(5520) == "1:32:00"
    for wrong in ("90", "1:60", "1:32:61", "-1:00", "1.5:00", ""):
        with pytest.raises(ValidationFailed) as refused:
            console_forms.seconds(wrong, "duration_seconds")
        assert refused.value.fields == {"duration_seconds": console_forms.NOT_A_DURATION}


def test_offers_and_rules_refuse_what_makes_no_sense() -> None:
    with pytest.raises(ValidationError) as refused:
        OffersWrite.model_validate({"rental": {**RENTAL, "watch_hours": 721}, "gift": True})
    assert {tuple(e["loc"]) for e in refused.value.errors()} == {
        ("rental", "watch_hours"), ("gift",)}  # fmt: skip
    with pytest.raises(ValidationError):
        RecordingSplitRuleWrite.model_validate({"platform_fee_bps": 0, "shares": [
            {"party": {"type": "label", "id": "x"}, "bps": 10_000}]})  # fmt: skip


def _rule(bps: list[int], fee: int, costs: list[int]) -> RecordingSplitRule:
    return RecordingSplitRule(
        id="rsr_x", recording_id="rec_x", venue_id="ven_x", version=1, platform_fee_bps=fee,
        costs=[{"label": f"cost {i}", "amount": c, "currency": "EUR"}
               for i, c in enumerate(costs)],
        shares=[{"party": {"type": "rights_holder", "id": f"rhd_{i}"}, "bps": b}
                for i, b in enumerate(bps)],
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
    )  # fmt: skip


@st.composite
def _shares(draw: st.DrawFn) -> list[int]:
    cuts = sorted(draw(st.lists(st.integers(1, 9_999), max_size=5, unique=True)))
    bounds = [0, *cuts, 10_000]
    return [b - a for a, b in pairwise(bounds)]


@given(
    gross=st.integers(0, 10_000_000),
    vat=st.integers(0, 5000),
    fee=st.integers(0, 10_000),
    costs=st.lists(st.integers(1, 1_000_000), max_size=3),
    bps=_shares(),
)
def test_the_preview_accounts_for_every_cent(
    gross: int, vat: int, fee: int, costs: list[int], bps: list[int]
) -> None:
    found = preview(_rule(bps, fee, costs), gross, vat)
    recouped = sum(amount for _, amount in found.costs)
    assert found.vat + found.platform_fee + recouped + found.distributable == gross
    assert found.distributable >= 0 and 0 <= found.vat <= gross
    amounts = [amount for *_, amount in found.parties]
    assert sum(amounts) == found.distributable
    for _, _, share, amount in found.parties:
        exact = found.distributable * share / 10_000
        assert abs(amount - exact) < 1


def test_the_preview_of_a_ten_euro_rental_split_50_30_20() -> None:
    found = preview(_rule([5000, 3000, 2000], 0, []), 1000, 2100)
    assert (found.vat, found.distributable) == (174, 826)
    assert [amount for *_, amount in found.parties] == [413, 248, 165]


@pytest.fixture
def rolled_back(engine: Any, settings: Any) -> Iterator[Connection]:
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield conn
        finally:
            transaction.rollback()


def _refused(conn: Connection, statement: str, **params: Any) -> str:
    savepoint = conn.begin_nested()
    with pytest.raises(DBAPIError) as refused:
        conn.execute(text(statement), params)
    savepoint.rollback()
    return str(refused.value.orig)


def test_the_database_refuses_offers_that_break_the_rules(
    client: TestClient, rolled_back: Connection
) -> None:
    venue = make_venue(client)
    recording = make_recording(client, venue)
    insert = (
        "INSERT INTO recording_offers (id, recording_id, venue_id, kind, price_amount, "
        "currency, vat_rate_bps, start_within_days, watch_hours, created_at) VALUES "
        "(:id, :r, :v, :kind, :price, 'EUR', 2100, :days, :hours, now())"
    )
    row = {"r": recording["id"], "v": venue.id}
    conn = rolled_back
    conn.execute(text(insert), {**row, "id": "rof_1", "kind": "rental", "price": 499,
                                "days": 30, "hours": 48})  # fmt: skip
    assert "recording_offer_one_active" in _refused(
        conn, insert, **row, id="rof_2", kind="rental", price=599, days=30, hours=48)  # fmt: skip
    assert "recording_offer_price" in _refused(
        conn, insert, **row, id="rof_3", kind="free", price=100, days=None, hours=None)  # fmt: skip
    assert "recording_offer_price" in _refused(
        conn, insert, **row, id="rof_4", kind="purchase", price=0, days=None, hours=None)  # fmt: skip
    assert "recording_offer_rental_terms" in _refused(
        conn, insert, **row, id="rof_5", kind="purchase", price=100, days=30, hours=None)  # fmt: skip
    assert "recording_status" in _refused(
        conn, "UPDATE recordings SET status = 'deleted' WHERE id = :id", id=recording["id"])  # fmt: skip
