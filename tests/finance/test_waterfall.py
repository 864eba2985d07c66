"""The waterfall ties out: every step accounted for, parties summing to distributable."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamsvc.finance.waterfall import OrderMoney, vat_of, waterfall
from streamsvc.kit.money import allocate

rates = st.sampled_from([0, 900, 2100])


@st.composite
def orders(draw: st.DrawFn) -> OrderMoney:
    items = tuple(draw(st.lists(st.tuples(st.integers(50, 50_000), rates), min_size=1, max_size=3)))
    gross = sum(total for total, _ in items)
    refunded = draw(st.integers(0, gross))
    lost = draw(st.sampled_from([0, gross - refunded]))
    return OrderMoney(items=items, refunded=refunded, disputed_lost=lost)


@st.composite
def shares(draw: st.DrawFn) -> list[tuple[str, int]]:
    weights = draw(st.lists(st.integers(1, 100), min_size=1, max_size=6))
    bps = allocate(10_000, weights)
    return [(f"party{i}", b) for i, b in enumerate(bps) if b] or [("venue", 10_000)]


@given(
    event_orders=st.lists(orders(), min_size=0, max_size=30),
    fees=st.integers(0, 50_000),
    platform=st.integers(0, 2_000),
    costs=st.lists(
        st.tuples(st.sampled_from(["production", "rights", "crew"]), st.integers(1, 200_000)),
        max_size=3,
    ),
    parties=shares(),
)
def test_the_waterfall_ties_out(event_orders: list[OrderMoney], fees: int, platform: int,
                                costs: list[tuple[str, int]], parties: list[tuple[str, int]]) -> None:  # fmt: skip
    w = waterfall(
        event_orders, stripe_fees=fees, platform_fee_bps=platform, costs=costs, shares=parties
    )
    recouped = sum(amount for _, amount in w.costs)
    assert (w.gross - w.refunds - w.disputes - w.vat - w.stripe_fees - w.platform_fee - recouped
            == w.distributable)  # fmt: skip
    assert all(0 <= got <= wanted for (_, got), (_, wanted) in zip(w.costs, costs, strict=True))
    paid = sum(amount for _, _, amount in w.parties)
    if w.distributable > 0:
        assert paid == w.distributable
        for _, bps, amount in w.parties:
            assert abs(Fraction(amount) - Fraction(w.distributable * bps, 10_000)) < 1
    else:
        assert paid == 0  # a loss is carried over, not shared
        assert recouped == 0 or w.distributable == 0


@given(event_orders=st.lists(orders(), max_size=20))
def test_vat_is_within_a_unit_per_line_of_the_exact_figure(event_orders: list[OrderMoney]) -> None:
    exact = Fraction(0)
    lines = 0
    for order in event_orders:
        kept = order.gross - order.refunded - order.disputed_lost
        for total, rate in order.items:
            exact += Fraction(kept * total, order.gross) * Fraction(rate, 10_000 + rate)
            lines += 1
    assert abs(vat_of(event_orders) - exact) <= 2 * lines + 1


def test_the_opera_of_the_issue() -> None:
    """Venue 40 %, three performers 20 % each, platform 5 %, one production cost."""
    seats, stream = (8500, 900), (1950, 2100)
    event_orders = [OrderMoney(items=(seats,)) for _ in range(200)] + [
        OrderMoney(items=(stream, stream)) for _ in range(300)
    ]
    event_orders[0] = OrderMoney(items=(seats,), refunded=8500)
    event_orders[1] = OrderMoney(items=(seats,), refunded=2000)
    event_orders[2] = OrderMoney(items=(seats,), disputed_lost=8500)
    w = waterfall(event_orders, stripe_fees=41_237, platform_fee_bps=500,
                  costs=[("stream production", 250_000)],
                  shares=[("venue", 4000), ("p1", 2000), ("p2", 2000), ("p3", 2000)])  # fmt: skip
    assert w.gross == 200 * 8500 + 300 * 3900
    assert (w.refunds, w.disputes) == (10_500, 8500)
    assert w.costs == (("stream production", 250_000),)
    assert sum(amount for _, _, amount in w.parties) == w.distributable > 0
    venue, *performers = [amount for _, _, amount in w.parties]
    assert all(abs(venue - 2 * p) <= 2 for p in performers)


@given(order=orders(), count=st.integers(1, 50), fees=st.integers(0, 5000))
def test_orders_alike_counted_once_are_the_same_as_listed_one_by_one(
    order: OrderMoney, count: int, fees: int
) -> None:
    grouped = OrderMoney(items=order.items, refunded=order.refunded,
                         disputed_lost=order.disputed_lost, count=count)  # fmt: skip
    kwargs: dict[str, object] = {"stripe_fees": fees, "platform_fee_bps": 500,
                                 "costs": [("production", 1000)],
                                 "shares": [("venue", 6000), ("singer", 4000)]}  # fmt: skip
    assert waterfall([grouped], **kwargs) == waterfall([order] * count, **kwargs)  # type: ignore[arg-type]


def test_what_stripe_charged_is_the_gross_not_the_list_price() -> None:
    charged = OrderMoney(items=((1000, 2100), (500, 900)), paid=1600)  # 100 more than listed
    assert charged.gross == 1600
    assert vat_of([charged]) == vat_of([OrderMoney(items=((1067, 2100), (533, 900)))])


def test_the_platform_fee_is_its_share_of_revenue_down_to_one_cent() -> None:
    """Largest remainder even on a single cent: half of it or more rounds to the fee (the
    first part), less to the rest."""
    for bps, fee in ((10_000, 1), (5000, 1), (4999, 0), (0, 0)):
        w = waterfall([OrderMoney(items=((1, 0),))], stripe_fees=0, platform_fee_bps=bps,
                      costs=[], shares=[("venue", 10_000)])  # fmt: skip
        assert (w.revenue_ex_vat, w.platform_fee, w.distributable) == (1, fee, 1 - fee), bps
        assert w.parties == (("venue", 10_000, 1 - fee),)  # a cent left is shared too


# mutant streamsvc.finance.waterfall.x_waterfall__mutmut_31: `>= 0` for `> 0` before the
#   platform fee: on a revenue of 0 the fee is allocate(0, ...)[0], which is 0 as well.
# mutant streamsvc.finance.waterfall.x_waterfall__mutmut_51: `None` for `()` as the first
#   value of `parties`, which both branches below assign before it is read.
# mutant streamsvc.finance.waterfall.x_waterfall__mutmut_52: `left >= 0` for `left > 0`:
#   allocating 0 gives every party 0, as the else branch does.
# mutant streamsvc.finance.waterfall.x_waterfall__mutmut_63: `strict=None` in zipping the
#   shares with allocate()'s parts, one per share by allocate's contract (test_money).
# mutant streamsvc.finance.waterfall.x_waterfall__mutmut_66: as _63, strict left out.
# mutant streamsvc.finance.waterfall.x_waterfall__mutmut_67: as _63, `strict=False`.
# mutant streamsvc.finance.waterfall.x_vat_by_rate__mutmut_6: `kept < 0` for `kept <= 0`:
#   on 0 kept, allocate(0, ...) gives every line 0 and so 0 VAT, at no rate.
# mutant streamsvc.finance.waterfall.x_vat_by_rate__mutmut_7: `kept <= 1`: on 1 cent kept
#   the VAT part of allocate(1, [10000, rate]) is 0 for every rate a tier may have (at
#   most 10000 bps: the net's remainder is never the smaller, and wins a tie).
# mutant streamsvc.finance.waterfall.x_vat_by_rate__mutmut_18: `strict=None` in zipping an
#   order's items with allocate()'s parts, one per item by allocate's contract.
# mutant streamsvc.finance.waterfall.x_vat_by_rate__mutmut_21: as _18, strict left out.
# mutant streamsvc.finance.waterfall.x_vat_by_rate__mutmut_22: as _18, `strict=False`.
# mutant streamsvc.finance.waterfall.x_vat_by_rate__mutmut_26: allocating a line at a rate
#   of 0 too: allocate(share, [10000, 0])[1] is 0, which is what the skip gives (and a
#   rate with no VAT is left out of the result either way).


@pytest.mark.parametrize(
    ("line", "rate", "vat"),
    [
        # 9 % included in 1000.00: 82.5688...; the net's remainder (.119) is the smaller.
        (100_000, 900, 8257),
        # 21 % included in 10,000.00: 1735.5372 -> 1735.54.
        (1_000_000, 2100, 173_554),
        # 9 % in 53.95: 4.4546 -> 4.45 (the net's .54 wins the last cent).
        (5395, 900, 445),
    ],
)
def test_vat_is_the_share_the_rate_includes_to_the_cent(line: int, rate: int, vat: int) -> None:
    """Prices include VAT: the VAT of a line is line x rate / (10000 + rate), split
    from the net by largest remainder."""
    assert vat_of([OrderMoney(items=((line, rate),))]) == vat


def test_a_loss_pays_no_platform_fee_and_recoups_nothing() -> None:
    """Refunded in full and then lost in a dispute too (Stripe takes the money back
    twice): revenue is negative, so there is no fee to take, no cost to recoup and
    nothing to share; the loss is carried over whole."""
    order = OrderMoney(items=((5000, 2100),), refunded=5000, disputed_lost=5000)
    w = waterfall([order], stripe_fees=300, platform_fee_bps=500, costs=[("production", 1000)],
                  shares=[("venue", 6000), ("singer", 4000)])  # fmt: skip
    assert (w.revenue_ex_vat, w.vat, w.platform_fee) == (-5000, 0, 0)
    assert w.costs == (("production", 0),)
    assert w.distributable == -5300
    assert w.parties == (("venue", 6000, 0), ("singer", 4000, 0))
