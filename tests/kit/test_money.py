"""The one allocation function, pinned exactly: largest remainder with ties to the
earlier party, checked against a reference written here with fractions (never against
`allocate` itself), and against splits worked out by hand."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from streamsvc.kit.money import Currency, Money, allocate

weights = st.lists(st.integers(0, 10_000), min_size=1, max_size=30).filter(lambda w: sum(w) > 0)
# Few distinct small weights: equal remainders (ties) are the rule, not the exception.
tied_weights = st.lists(st.integers(0, 4), min_size=2, max_size=12).filter(lambda w: sum(w) > 0)
totals = st.integers(-(10**12), 10**12)


def hamilton(total: int, weights: list[int]) -> list[int]:
    """Largest remainder, by its textbook definition, in exact fractions: everyone gets
    the floor of their quota; the units still missing go one at a time to the party
    whose quota is furthest above what it has, the earliest party among equals. A
    negative total is the mirror image of its positive."""
    if total < 0:
        return [-part for part in hamilton(-total, weights)]
    quotas = [Fraction(total * weight, sum(weights)) for weight in weights]
    parts = [math.floor(quota) for quota in quotas]
    while sum(parts) < total:
        # Scanning forward with a strict `>` keeps the earliest of equals. A party that
        # got its unit is above its quota now, so it never comes first again.
        best = 0
        for i, quota in enumerate(quotas):
            if quota - parts[i] > quotas[best] - parts[best]:
                best = i
        parts[best] += 1
    return parts


@given(total=totals, weights=weights)
def test_parts_sum_to_the_whole_and_stay_near_their_quota(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    assert sum(parts) == total
    whole = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert abs(Fraction(part) - Fraction(total * weight, whole)) < 1
        if weight == 0:
            assert part == 0


@given(total=totals, weights=weights | tied_weights)
@example(total=10, weights=[1, 2])  # 3.33 and 6.67: the larger remainder gets the unit
@example(total=1, weights=[1, 1])  # a tie: the earlier party
def test_the_split_is_the_largest_remainder_reference(total: int, weights: list[int]) -> None:
    assert allocate(total, weights) == hamilton(total, weights)


@given(total=st.integers(0, 10**12), weights=weights | tied_weights)
def test_exactly_the_largest_remainders_get_a_unit_more(total: int, weights: list[int]) -> None:
    """The definition as a property: a part is floor(quota) or one more; `left` parts
    get one more; none of them has a smaller remainder than a part that did not, nor an
    equal remainder and a later place."""
    parts = allocate(total, weights)
    whole = sum(weights)
    quotas = [Fraction(total * weight, whole) for weight in weights]
    floors = [math.floor(quota) for quota in quotas]
    bumped = [i for i, (part, low) in enumerate(zip(parts, floors, strict=True)) if part != low]
    assert all(parts[i] == floors[i] + 1 for i in bumped)
    assert len(bumped) == total - sum(floors)
    remainder = [quota - low for quota, low in zip(quotas, floors, strict=True)]
    for i in bumped:
        for j in set(range(len(weights))) - set(bumped):
            assert remainder[i] > remainder[j] or (remainder[i] == remainder[j] and i < j)


@given(total=st.integers(1, 10**12), weights=weights | tied_weights)
def test_a_negative_total_mirrors_the_positive(total: int, weights: list[int]) -> None:
    assert allocate(-total, weights) == [-part for part in allocate(total, weights)]


@given(total=totals, weights=weights | tied_weights, scale=st.integers(2, 1000))
def test_only_the_proportions_of_the_weights_count(
    total: int, weights: list[int], scale: int
) -> None:
    """Shares of 1:2 and 5000:10000 basis points split alike: the same quotas, so the
    same remainders in the same order."""
    assert allocate(total, [weight * scale for weight in weights]) == allocate(total, weights)


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        # 100 / 3 = 33 1/3 each: one unit left, a three-way tie, the first party takes it.
        (100, [1, 1, 1], [34, 33, 33]),
        (-100, [1, 1, 1], [-34, -33, -33]),
        (1, [5000, 5000], [1, 0]),
        (2, [1, 1, 1], [1, 1, 0]),
        (10_000, [4000, 2000, 2000, 2000], [4000, 2000, 2000, 2000]),
        # 10 * 1/3 = 3.33, 10 * 2/3 = 6.67: floors 3 + 6, the unit to the .67.
        (10, [1, 2], [3, 7]),
        (-10, [1, 2], [-3, -7]),
        # 19707 over 40/20/20/20 %: 7882.8, 3941.4 x3; floors leave 2 units: the .8,
        # then the first of the three .4s.
        (19_707, [4000, 2000, 2000, 2000], [7883, 3942, 3941, 3941]),
        # 7 over 1/2/4: 1, 2, 4 exactly; 8 over 3/3/2: 3, 3, 2 exactly.
        (7, [1, 2, 4], [1, 2, 4]),
        (8, [3, 3, 2], [3, 3, 2]),
        # 9 over 3/3/2 = 3.375, 3.375, 2.25: floors 3, 3, 2, one unit to the first .375.
        (9, [3, 3, 2], [4, 3, 2]),
        # 5 over 2/2/1/0: 2, 2, 1, 0 exactly; 4 over 2/2/1/0 = 1.6, 1.6, 0.8, 0: floors 1,
        # 1, 0, 0; two units: the .8 first, then the first .6.
        (5, [2, 2, 1, 0], [2, 2, 1, 0]),
        (4, [2, 2, 1, 0], [2, 1, 1, 0]),
        # The platform fee of 500 bps on 29930 is 1496.5: a tie, the fee (first) rounds up.
        (29_930, [500, 9500], [1497, 28433]),
        # VAT at 9 % in 5395: 5395 * 900 / 10900 = 445.46; 4949.54 net: the net's .54 wins.
        (5395, [10_000, 900], [4950, 445]),
    ],
)
def test_splits_worked_out_by_hand(total: int, weights: list[int], parts: list[int]) -> None:
    assert allocate(total, weights) == parts


def test_the_weights_are_left_as_they_were() -> None:
    weights = [3, 1, 2]
    allocate(100, weights)
    assert weights == [3, 1, 2]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [([], "nothing to allocate to"), ([0, 0], "the weights sum to zero"),
     ([-1, 2], "weights are non-negative integers"), ([1.5], "weights are non-negative integers"),
     ([True, 1], "weights are non-negative integers")],
)  # fmt: skip
def test_bad_weights_are_refused(bad: list[object], reason: str) -> None:
    """Refused, saying which of the three it is (what a failed split then reports)."""
    with pytest.raises(ValueError, match=f"^{reason}$"):
        allocate(100, bad)  # type: ignore[arg-type]


def test_money_is_integer_minor_units() -> None:
    assert Money(1250, "EUR").decimal_string() == "12.50"
    assert Money(-5, "EUR").decimal_string() == "-0.05"
    assert Money(1250, "JPY").decimal_string() == "1250"
    assert Money(1250, "KWD").decimal_string() == "1.250"
    # The message names the mistake to whoever passed a float or a bool.
    for amount in (12.5, True):
        with pytest.raises(TypeError, match=r"^Money\.amount is an int of minor units$"):
            Money(amount, "EUR")  # type: ignore[arg-type]


def test_a_currency_is_an_iso_4217_code_a_ticket_can_be_sold_in() -> None:
    currency: TypeAdapter[str] = TypeAdapter(Currency)
    assert [currency.validate_python(code) for code in ("EUR", "JPY", "KWD")] == [
        "EUR", "JPY", "KWD"
    ]  # fmt: skip
    for code in ("eur", "EURO", "XAU", "XTS", ""):  # lower case, no code, a metal, a test code
        with pytest.raises(ValidationError) as refused:
            currency.validate_python(code)
        # What the API answers for the field, so a client sees how to write one.
        [error] = refused.value.errors()
        assert error["msg"] == "Value error, not an ISO 4217 currency code (upper case, e.g. EUR)"
