"""Guarantees ("versus deals"): the invariants of finance/deals.py's docstring, over
random rules and revenues, and a refund after a split taking back from the right parties."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from streamsvc.finance.deals import settle_shares, settle_versions
from streamsvc.kit.money import allocate


@st.composite
def rules(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """Shares in bps summing to 10000, and a guarantee (or none) per share."""
    cuts = sorted(draw(st.sets(st.integers(1, 9_999), max_size=4)))
    shares = [high - low for low, high in itertools.pairwise([0, *cuts, 10_000])]
    guarantee = st.one_of(st.just(0), st.integers(1, 2_000_000))
    return shares, [draw(guarantee) for _ in shares]


revenue = st.integers(0, 5_000_000)


@given(rules(), revenue)
def test_parts_are_non_negative_and_sum_to_the_distributable(
    rule: tuple[list[int], list[int]], distributable: int
) -> None:
    parts = settle_shares(distributable, *rule)
    assert sum(parts) == distributable
    assert all(part >= 0 for part in parts)


@given(rules(), revenue)
def test_without_guarantees_the_parts_are_the_plain_allocation(
    rule: tuple[list[int], list[int]], distributable: int
) -> None:
    shares, _ = rule
    expected = allocate(distributable, shares) if distributable else [0] * len(shares)
    assert settle_shares(distributable, shares, [0] * len(shares)) == expected


@given(rules(), st.integers(1, 5_000_000))
def test_guarantees_are_met_or_share_the_whole_pro_rata(
    rule: tuple[list[int], list[int]], distributable: int
) -> None:
    shares, guarantees = rule
    parts = settle_shares(distributable, shares, guarantees)
    if sum(guarantees) >= distributable:
        assert parts == allocate(distributable, guarantees)
        return
    for part, share, guarantee in zip(parts, shares, guarantees, strict=True):
        assert part >= guarantee
        if guarantee == 0:
            # Never more than its share: below the exact quota plus allocate's one unit.
            assert part * 10_000 < share * distributable + 10_000


@given(rules(), st.integers(1, 5_000_000))
def test_the_top_ups_come_from_the_others_in_proportion_to_their_shares(
    rule: tuple[list[int], list[int]], distributable: int
) -> None:
    shares, guarantees = rule
    parts = settle_shares(distributable, shares, guarantees)
    if sum(guarantees) >= distributable:
        return
    # The topped-up parties hold exactly their guarantee; the others share the rest by
    # their shares, each within allocate's one unit of its quota (two when a party
    # that merely landed on its guarantee is counted among the topped-up).
    topped = [i for i, g in enumerate(guarantees) if g and parts[i] == g]
    others = [i for i in range(len(shares)) if i not in topped]
    if not topped or not others:
        return
    rest = distributable - sum(parts[i] for i in topped)
    weight = sum(shares[i] for i in others)
    for i in others:
        assert abs(parts[i] * weight - shares[i] * rest) < 2 * weight


@given(rules(), revenue, revenue)
def test_a_guaranteed_party_never_loses_when_revenue_grows(
    rule: tuple[list[int], list[int]], first: int, second: int
) -> None:
    shares, guarantees = rule
    low, high = sorted((first, second))
    before, after = settle_shares(low, shares, guarantees), settle_shares(high, shares, guarantees)
    for i, guarantee in enumerate(guarantees):
        # allocate (largest remainder) may move one unit between parties as the total
        # grows; beyond that, more revenue never takes anything from anybody.
        assert after[i] >= before[i] - 1 or (guarantee and after[i] >= guarantee)


def test_the_versus_deal_of_the_issue() -> None:
    # 60/40 with a guarantee of €500 for the partner: below the break-even (€1250
    # distributable) the partner gets €500; above it, its 40 %.
    assert settle_shares(100_000, [6000, 4000], [0, 50_000]) == [50_000, 50_000]
    assert settle_shares(30_000, [6000, 4000], [0, 50_000]) == [0, 30_000]
    assert settle_shares(125_000, [6000, 4000], [0, 50_000]) == [75_000, 50_000]
    assert settle_shares(200_000, [6000, 4000], [0, 50_000]) == [120_000, 80_000]
    # Two guarantees: the second pays its part of the first's top-up, then is topped up.
    assert settle_shares(100_000, [1000, 4500, 4500], [50_000, 44_000, 0]) == [
        50_000,
        44_000,
        6_000,
    ]


version_groups = st.lists(st.tuples(st.integers(-50_000, 2_000_000), rules()), min_size=1,
                          max_size=3)  # fmt: skip


def _named(
    groups: list[tuple[int, tuple[list[int], list[int]]]],
) -> list[tuple[int, list[tuple[str, int]]]]:
    """Versions naming parties p0, p1, …: the same names recur across versions."""
    return [(d, [(f"p{i}", bps) for i, bps in enumerate(shares)]) for d, (shares, _) in groups]


@given(version_groups, st.dictionaries(st.sampled_from(["p0", "p1", "p2"]),
                                       st.integers(0, 3_000_000)))  # fmt: skip
def test_versions_each_sum_to_their_distributable_and_owe_a_guarantee_once(
    groups: list[tuple[int, tuple[list[int], list[int]]]], guarantees: dict[str, int]
) -> None:
    versions = _named(groups)
    settled = settle_versions(versions, guarantees)
    for (distributable, shares), parts in zip(versions, settled, strict=True):
        assert sum(parts) == max(0, distributable)
        assert len(parts) == len(shares) and all(part >= 0 for part in parts)
    total = {party: 0 for _, shares in versions for party, _ in shares}
    plain = dict(total)
    for (distributable, shares), parts in zip(versions, settled, strict=True):
        amounts = allocate(distributable, [b for _, b in shares]) if distributable > 0 else []
        for i, ((party, _), part) in enumerate(zip(shares, parts, strict=True)):
            total[party] += part
            plain[party] += amounts[i] if amounts else 0
    available = sum(max(0, d) for d, _ in versions)
    for party, guarantee in guarantees.items():
        if party not in total or not guarantee:
            continue
        others = sum(g for p, g in guarantees.items() if p != party and p in total)
        if guarantee + others <= max(0, versions[-1][0]) and any(
            p == party for p, _ in versions[-1][1]
        ):
            # The latest group carries every guarantee: each is met once over the event,
            # and a party paid above its guarantee keeps at least its plain shares.
            assert total[party] >= guarantee
            assert total[party] <= max(guarantee, plain[party]) or others
    assert sum(total.values()) == available
    if not any(guarantees.values()):
        assert settled == [
            allocate(d, [b for _, b in s]) if d > 0 else [0] * len(s) for d, s in versions
        ]


@given(rules(), st.lists(st.integers(-300_000, 600_000), min_size=1, max_size=6))
def test_a_refund_after_a_split_takes_back_from_the_right_parties(
    rule: tuple[list[int], list[int]], movements: list[int]
) -> None:
    # Each split posts the difference from what was split before (finance/splitting.py),
    # so what a party holds is always the settlement of the event's whole revenue. A
    # refund gives nobody anything (beyond allocate's one unit), and a single
    # guarantee stays met as far as the distributable allows.
    shares, guarantees = rule
    single = [0] * len(shares)
    single[0] = guarantees[0]
    held = [0] * len(shares)
    distributable = 0
    for movement in movements:
        distributable = max(0, distributable + movement)
        target = settle_shares(distributable, shares, single)
        postings = [aim - was for was, aim in zip(held, target, strict=True)]
        if movement < 0:
            assert all(posting <= 1 for posting in postings)
            if single[0]:
                assert postings[0] <= 0 or target[0] <= single[0]
        held = [was + posting for was, posting in zip(held, postings, strict=True)]
        assert sum(held) == distributable
        assert held[0] >= min(single[0], distributable)
