"""Deal terms beyond flat shares: guarantees ("versus deals"), settled exactly.

A party with a guarantee receives the greater of its guarantee and its share of the
distributable. What it receives above its share comes from the other parties in
proportion to their shares, and nobody receives more than the distributable holds.
Every amount is split by `kit.money.allocate`, so parts always sum to their whole.

`settle_shares` settles one distributable. Its result, for a distributable `D > 0`,
shares `s` (basis points) and guarantees `g` (minor units, 0 = none):

1. The parts are non-negative and sum to `D` exactly.
2. With no guarantee at all the parts equal `allocate(D, s)`.
3. If the guarantees together reach `D` (`sum(g) >= D`), the guaranteed parties
   share `D` in proportion to their guarantees (`allocate(D, g)`); the rest get 0.
4. Otherwise every guaranteed party receives at least its guarantee; a party topped
   up to its guarantee receives exactly its guarantee.
5. A party without a guarantee never receives more than its share: its part is
   below `s_i * D / 10000 + 1` (the one unit is `allocate`'s rounding).
6. The parties not topped up share what the topped-up ones leave by `allocate`
   over their own shares: the top-ups come from them in proportion to their shares.

The fixed point: start with nobody topped up; allocate what the topped-up parties
leave among the others by their shares; every guaranteed party whose part is then
below its guarantee joins the topped-up set; repeat until nobody joins. The set only
grows (a top-up leaves less for the others), so this ends within one round per party.
When the topped-up guarantees reach the distributable, they share it pro rata.

`settle_versions` settles an event whose orders were sold under several split-rule
versions (each version's group has its own distributable and shares): a guarantee is
a term of the whole event, settled once over all its groups (see its docstring).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from streamsvc.kit.money import allocate


def settle_shares(
    distributable: int, shares: Sequence[int], guarantees: Sequence[int]
) -> list[int]:
    """Each party's part of `distributable` (>= 0): shares in bps, guarantees in minor
    units (0 = none), in the same order. The contract is the module docstring's."""
    if len(shares) != len(guarantees):
        raise ValueError("one guarantee per share")
    if any(g < 0 for g in guarantees):
        raise ValueError("guarantees are not negative")
    if distributable < 0:
        raise ValueError("a negative distributable is carried over, not split")
    if distributable == 0:
        return [0] * len(shares)
    topped: set[int] = set()
    while True:
        parts = _parts(distributable, shares, guarantees, topped)
        short = {i for i, part in enumerate(parts)
                 if i not in topped and part < guarantees[i]}  # fmt: skip
        if not short:
            return parts
        topped |= short


def _parts(distributable: int, shares: Sequence[int], guarantees: Sequence[int],
           topped: set[int]) -> list[int]:  # fmt: skip
    promised = sum(guarantees[i] for i in topped)
    if promised >= distributable:
        # The guarantees cannot all be met: they share what there is, pro rata.
        return allocate(distributable, [guarantees[i] if i in topped else 0
                                        for i in range(len(shares))])  # fmt: skip
    rest = distributable - promised
    weights = [0 if i in topped else share for i, share in enumerate(shares)]
    # Nobody left to share the rest cannot happen with a positive rest (each party
    # topped up was promised more than its part of the rest), but it must not pass
    # silently: the guaranteed parties then share the whole by their guarantees.
    if not any(weights):
        return allocate(distributable, [guarantees[i] if i in topped else 0
                                        for i in range(len(shares))])  # fmt: skip
    parts = allocate(rest, weights)
    for i in topped:
        parts[i] = guarantees[i]
    return parts


def settle_versions(
    versions: Sequence[tuple[int, Sequence[tuple[str, int]]]], guarantees: Mapping[str, int]
) -> list[list[int]]:
    """The parts of every version group: `versions` is (distributable, [(party, bps)])
    per group in version order; `guarantees` by party (the deal in force). Returns one
    list of parts per group, in its shares' order; a group whose distributable is not
    positive pays nobody (its loss is carried, as in the waterfall).

    A guarantee is owed once per event, not once per group. The groups are settled from
    the latest back: a party's guarantee in a group is what it still lacks after its
    plain shares of the earlier groups and its settled parts of the later ones. So the
    top-up falls on the latest sales, and reaches back to earlier groups only as far
    as later ones cannot carry it; a party's whole-event total is the greater of its
    guarantee and its plain shares, wherever the distributables allow it. Every group's
    parts sum to its distributable (`settle_shares`). The result depends only on the
    event's cumulative figures, so a refund after a split takes back from the right
    parties when the split is posted again as a difference.
    """
    plain = [allocate(d, [bps for _, bps in shares]) if d > 0 else [0] * len(shares)
             for d, shares in versions]  # fmt: skip
    if not any(guarantees.values()):
        return plain
    settled: list[list[int]] = [list(parts) for parts in plain]
    for v in range(len(versions) - 1, -1, -1):
        distributable, shares = versions[v]
        if distributable <= 0:
            continue
        lacking = []
        for party, _ in shares:
            had = sum(_part(versions[u][1], plain[u], party) for u in range(v))
            had += sum(_part(versions[u][1], settled[u], party)
                       for u in range(v + 1, len(versions)))  # fmt: skip
            lacking.append(max(0, guarantees.get(party, 0) - had))
        settled[v] = settle_shares(distributable, [bps for _, bps in shares], lacking)
    return settled


def _part(shares: Sequence[tuple[str, int]], parts: Sequence[int], party: str) -> int:
    return sum(part for (name, _), part in zip(shares, parts, strict=True) if name == party)
