"""The one allocation function: parts sum to the whole, each within one unit of its quota."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamsvc.kit.money import Money, allocate

weights = st.lists(st.integers(0, 10_000), min_size=1, max_size=30).filter(lambda w: sum(w) > 0)


@given(total=st.integers(-(10**12), 10**12), weights=weights)
def test_parts_sum_to_the_whole_and_stay_near_their_quota(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    assert sum(parts) == total
    whole = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert abs(Fraction(part) - Fraction(total * weight, whole)) < 1
        if weight == 0:
            assert part == 0


@given(total=st.integers(0, 10**9), weights=weights)
def test_the_same_input_gives_the_same_split(total: int, weights: list[int]) -> None:
    assert allocate(total, weights) == allocate(total, list(weights))


def test_ties_go_to_the_earlier_party() -> None:
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(-100, [1, 1, 1]) == [-34, -33, -33]
    assert allocate(1, [5000, 5000]) == [1, 0]
    assert allocate(10_000, [4000, 2000, 2000, 2000]) == [4000, 2000, 2000, 2000]


@pytest.mark.parametrize("bad", [[], [0, 0], [-1, 2], [1.5]])
def test_bad_weights_are_refused(bad: list[object]) -> None:
    with pytest.raises(ValueError):
        allocate(100, bad)  # type: ignore[arg-type]


def test_money_is_integer_minor_units() -> None:
    assert Money(1250, "EUR").decimal_string() == "12.50"
    assert Money(-5, "EUR").decimal_string() == "-0.05"
    assert Money(1250, "JPY").decimal_string() == "1250"
    assert Money(1250, "KWD").decimal_string() == "1.250"
    with pytest.raises(TypeError):
        Money(12.5, "EUR")  # type: ignore[arg-type]
