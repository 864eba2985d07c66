"""Bundles in the waterfall: a hybrid ticket whose price is part admission (9 % VAT) and
part stream (21 % VAT). Worked examples with literal figures, each worked out by hand
below (VAT within a VAT-inclusive part P at rate r is P * r / (10000 + r), to the nearest
cent); and a property test over random bundles: every part and every rate's VAT adds
up, nothing is lost between the buyer's money and the parties."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from streamsvc.catalog.bundles import parts, problems
from streamsvc.finance.splitting import _parts
from streamsvc.finance.waterfall import OrderMoney, vat_by_rate, vat_of, waterfall

SEAT, STREAM = 900, 2100
# A €30.00 hybrid ticket: €12.00 admission to the performance, €18.00 the stream.
BUNDLE = [{"label": "Admission", "amount": 1200, "vat_rate_bps": SEAT},
          {"label": "Stream", "amount": 1800, "vat_rate_bps": STREAM}]  # fmt: skip


def test_a_bundle_line_is_divided_into_its_components() -> None:
    # 3 tickets: 3 x 1200 = 3600 admission, 3 x 1800 = 5400 stream.
    assert parts(9000, STREAM, BUNDLE) == [(3600, SEAT), (5400, STREAM)]
    # The splitting query's form of the same line, and of a one-rate line (unchanged).
    assert _parts("9000:2100:1200/900;1800/2100") == [(3600, SEAT), (5400, STREAM)]
    assert _parts("9000:2100") == [(9000, STREAM)]
    assert parts(9000, STREAM, []) == [(9000, STREAM)]


def test_one_bundle_ticket_pays_vat_at_both_rates() -> None:
    # Admission 1200 at 9 %: 1200 * 900 / 10900 = 99.08 -> 99.
    # Stream 1800 at 21 %: 1800 * 2100 / 12100 = 312.40 -> 312.
    # At one rate of 21 % the whole 3000 would have carried 3000 * 2100 / 12100 = 520.66 -> 521.
    order = OrderMoney(items=tuple(parts(3000, STREAM, BUNDLE)))
    assert vat_by_rate([order]) == ((SEAT, 99), (STREAM, 312))
    assert vat_of([order]) == 411
    assert vat_of([OrderMoney(items=((3000, STREAM),))]) == 521
    result = waterfall([order], stripe_fees=70, platform_fee_bps=500, costs=[],
                       shares=[("venue", 6000), ("performer", 4000)])  # fmt: skip
    # Revenue ex VAT 3000 - 411 = 2589; platform 5 % = 129.45 -> 129;
    # distributable 2589 - 70 - 129 = 2390: venue 1434, performer 956.
    assert (result.vat, result.vat_rates) == (411, ((SEAT, 99), (STREAM, 312)))
    assert (result.platform_fee, result.distributable) == (129, 2390)
    assert result.parties == (("venue", 6000, 1434), ("performer", 4000, 956))


def test_a_partly_refunded_bundle_order_pays_vat_on_what_was_kept() -> None:
    # 3 tickets (9000), 2000 refunded: 7000 kept, divided 3600 : 5400 = 2800 : 4200.
    # 2800 at 9 %: 2800 * 900 / 10900 = 231.19 -> 231.
    # 4200 at 21 %: 4200 * 2100 / 12100 = 728.93 -> 729.
    order = OrderMoney(items=tuple(parts(9000, STREAM, BUNDLE)), refunded=2000)
    assert vat_by_rate([order]) == ((SEAT, 231), (STREAM, 729))
    # A bundle beside a one-rate stream ticket (1950 at 21 %) in one order, all kept:
    # 3000 + 1950 = 4950; bundle 99 + 312 as above; 1950 * 2100 / 12100 = 338.43 -> 338.
    mixed = OrderMoney(items=(*parts(3000, STREAM, BUNDLE), (1950, STREAM)))
    assert vat_by_rate([mixed]) == ((SEAT, 99), (STREAM, 650))


def test_a_pay_what_you_want_bundle_divides_the_chosen_amount_in_proportion() -> None:
    # 2500 chosen, in the proportion 1200 : 1800 -> 1000 admission, 1500 stream.
    # 1000 * 900 / 10900 = 82.57 -> 83; 1500 * 2100 / 12100 = 260.33 -> 260.
    assert parts(2500, STREAM, BUNDLE) == [(1000, SEAT), (1500, STREAM)]
    assert vat_by_rate([OrderMoney(items=tuple(parts(2500, STREAM, BUNDLE)))]) == (
        (SEAT, 83), (STREAM, 260))  # fmt: skip
    # 1001 in 2 : 3 -> quotas 400.4 and 600.6: the largest remainder gives the cent to
    # the stream: 400 + 601.
    assert parts(1001, STREAM, BUNDLE) == [(400, SEAT), (601, STREAM)]


def test_bundle_problems_name_the_field() -> None:
    assert problems(BUNDLE, 3000) == {}
    assert problems([], 3000) == {}
    assert "components" in problems(BUNDLE, 3100)
    assert "components" in problems(BUNDLE[:1], 1200)
    assert "components" in problems(BUNDLE * 3, 9000)  # more than 4
    too_high = [BUNDLE[0], {**BUNDLE[1], "vat_rate_bps": 6000}]
    assert set(problems(too_high, 3000)) == {"components[1].vat_rate_bps"}
    twice = [BUNDLE[0], {**BUNDLE[1], "label": "admission"}]
    assert set(problems(twice, 3000)) == {"components[1].label"}


components_st = st.lists(
    st.tuples(st.integers(1, 50_000), st.sampled_from([0, 600, 900, 1300, 2100, 2500])),
    min_size=2, max_size=4,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    components=components_st,
    quantity=st.integers(1, 20),
    refund_share=st.fractions(0, 1),
    fees=st.integers(0, 5_000),
    platform_bps=st.integers(0, 3_000),
    shares=st.lists(st.integers(1, 100), min_size=1, max_size=5),
)
def test_a_waterfall_with_a_bundle_sums_exactly(
    components: list[tuple[int, int]], quantity: int, refund_share: Fraction, fees: int,
    platform_bps: int, shares: list[int],
) -> None:  # fmt: skip
    bundle = [{"label": f"part {i}", "amount": amount, "vat_rate_bps": rate}
              for i, (amount, rate) in enumerate(components)]  # fmt: skip
    price = sum(amount for amount, _ in components)
    line = price * quantity
    divided = parts(line, 2100, bundle)
    # At the stated price each component gets exactly quantity x its amount.
    assert divided == [(quantity * amount, rate) for amount, rate in components]
    refunded = int(line * refund_share)
    order = OrderMoney(items=tuple(divided), refunded=refunded)
    kept = line - refunded
    by_rate = dict(vat_by_rate([order]))
    # Each rate's VAT is within a cent per component of the exact VAT of its parts of
    # what was kept (the kept money divided in proportion to the parts).
    for rate in {rate for _, rate in components}:
        exact = sum((Fraction(kept * quantity * amount * rate, line * (10_000 + rate))
                     for amount, r in components if r == rate), Fraction(0))  # fmt: skip
        assert abs(by_rate.get(rate, 0) - exact) <= len(components), (rate, exact)
    # Parties' shares in bps summing to 10000: the last takes the rest.
    bps = [max(1, 10_000 * s // sum(shares)) for s in shares]
    bps[-1] = 10_000 - sum(bps[:-1])
    if bps[-1] < 1:
        return
    result = waterfall([order], stripe_fees=fees, platform_fee_bps=platform_bps, costs=[],
                       shares=[(f"p{i}", b) for i, b in enumerate(bps)])  # fmt: skip
    assert result.vat == sum(vat for _, vat in result.vat_rates) == vat_of([order])
    assert result.gross - result.refunds - result.vat - fees - result.platform_fee == (
        result.distributable)  # fmt: skip
    if result.distributable > 0:
        assert sum(amount for _, _, amount in result.parties) == result.distributable
    # Net and VAT of what was kept: nothing lost, nothing made.
    assert 0 <= result.vat <= kept
