"""Splits worked out by hand (tests/finance/worked.py), checked figure by figure: the
pure waterfall on the same orders, and the whole path through the API (statement,
every ledger balance, every split transaction) after each split of an event whose
loss is carried then recovered, and of one refunded after its split."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from streamsvc.db import Database
from streamsvc.finance.waterfall import OrderMoney, vat_of, waterfall
from streamsvc.kit.clock import FixedClock
from tests.finance import worked as w

SEAT, STREAM = w.SEAT_VAT, w.STREAM_VAT


def _order(*items: tuple[int, int], refunded: int = 0, lost: int = 0) -> OrderMoney:
    return OrderMoney(items=items, refunded=refunded, disputed_lost=lost)


# The orders of each table as the waterfall sees them (line totals with their rates),
# with the rule: (orders, Stripe fees, platform bps, costs, shares).
_OPERA_ORDERS = [_order((17000, SEAT)), _order((2450, STREAM)),
                 _order((8500, SEAT), (2450, STREAM), refunded=4000), _order((7350, STREAM)),
                 _order((2450, STREAM), lost=2450)]  # fmt: skip
_CARRY_ORDERS = [_order((2000, STREAM), lost=2000), _order((2000, STREAM), refunded=2000)]
_REFUND_ORDERS = [_order((4900, STREAM)), _order((6000, SEAT), (2450, STREAM))]
PURE: dict[str, tuple[w.Table, list[OrderMoney], int, int, list[int], list[int]]] = {
    "opera": (w.OPERA, _OPERA_ORDERS, 3726, 500, [5000], [4000, 2000, 2000, 2000]),
    "carry 1": (w.CARRY_1, _CARRY_ORDERS, 1610, 1000, [5000], [6000, 4000]),
    "carry 2": (w.CARRY_2, [*_CARRY_ORDERS, _order((4000, STREAM))], 1695, 1000, [5000],
                [6000, 4000]),
    "carry 3": (w.CARRY_3, [*_CARRY_ORDERS, *[_order((4000, STREAM))] * 3], 1865, 1000, [5000],
                [6000, 4000]),
    "refund 1": (w.REFUND_1, [_order((12000, SEAT)), *_REFUND_ORDERS], 454, 500, [3000],
                 [5000, 3000, 2000]),
    "refund 2": (w.REFUND_2, [_order((12000, SEAT), refunded=6000), *_REFUND_ORDERS], 454, 500,
                 [3000], [5000, 3000, 2000]),
}  # fmt: skip


def _vat_at(orders: Sequence[OrderMoney], rate: int) -> int:
    """The VAT at one rate: the other lines keep their weight in spreading the kept money
    over the lines, but carry no VAT."""
    return vat_of([replace(order, items=tuple((total, r if r == rate else 0)
                                              for total, r in order.items))
                   for order in orders])  # fmt: skip


@pytest.mark.parametrize("name", list(PURE))
def test_the_waterfall_function_gives_the_hand_worked_table(name: str) -> None:
    table, orders, fees, platform, costs, shares = PURE[name]
    labels = [label for label, _ in table.costs]
    result = waterfall(orders, stripe_fees=fees, platform_fee_bps=platform,
                       costs=list(zip(labels, costs, strict=True)),
                       shares=[(f"party {i}", bps) for i, bps in enumerate(shares)])  # fmt: skip
    assert {rate: _vat_at(orders, rate) for rate in table.vat_by_rate} == table.vat_by_rate
    assert (result.gross, result.refunds, result.disputes, result.vat, result.stripe_fees,
            result.platform_fee, result.costs, result.distributable) == (
        table.gross, table.refunds, table.disputes, table.vat, table.stripe_fees,
        table.platform_fee, table.costs, table.distributable)  # fmt: skip
    assert result.revenue_ex_vat == table.revenue_ex_vat
    assert [amount for _, _, amount in result.parties] == list(table.parties)


def test_the_postings_are_the_changes_between_the_tables() -> None:
    """The hand-worked tables agree with each other: a posting is the difference of the
    tables before and after it (split 1 of the carried loss posted nothing, so split 2
    counts from nothing)."""
    nothing = w.Table(gross=0, refunds=0, disputes=0, vat_by_rate={}, stripe_fees=0,
                      platform_fee=0, costs=(("", 0),), distributable=0, parties=(0, 0, 0, 0))  # fmt: skip
    steps = [(nothing, w.OPERA, w.OPERA_POSTING), (nothing, w.CARRY_2, w.CARRY_POSTINGS[0]),
             (w.CARRY_2, w.CARRY_3, w.CARRY_POSTINGS[1]),
             (nothing, w.REFUND_1, w.REFUND_POSTINGS[0]),
             (w.REFUND_1, w.REFUND_2, w.REFUND_POSTINGS[1])]  # fmt: skip
    for before, after, posting in steps:
        for figure in ("gross", "refunds", "disputes", "vat", "stripe_fees", "platform_fee",
                       "distributable"):  # fmt: skip
            change = getattr(after, figure) - getattr(before, figure)
            assert getattr(posting, figure) == change, (posting.period, figure)
        assert posting.costs == after.costs[0][1] - before.costs[0][1]
        assert posting.parties == tuple(
            a - b for a, b in zip(after.parties, before.parties, strict=False)
        )
        assert sum(posting.parties) == posting.distributable


def test_a_loss_is_carried_then_recovered(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    """Split 1: -1610, nobody paid, nothing posted; split 2: the loss recovered and the
    cost partly recouped, nobody paid yet; split 3: the cost recouped, 2061 shared."""
    worked = w.carried_loss(client, database, clock, check=w.check_books)
    assert [table.distributable for table in worked.tables] == [-1610, 0, 2061]


def test_a_refund_after_a_split_takes_back_from_each_party(
    client: TestClient, database: Database, clock: FixedClock
) -> None:
    """December's split takes 2614, 1569 and 1046 back from the venue and the two
    performers: the ledger entries on their accounts, by party."""
    worked = w.refund_after_split(client, database, clock, check=w.check_books)
    december = w.split_transactions(database, worked.world.event["id"])[
        f"split:{worked.world.event['id']}:v1:2026-12"]  # fmt: skip
    venue, first, second = (w.party_account(party) for party in worked.world.parties)
    assert (december[venue], december[first], december[second]) == (2614, 1569, 1046)
