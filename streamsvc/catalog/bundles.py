"""Bundles: a tier whose price is made of parts, each taxed at its own VAT rate.

A hybrid ticket (a seat in the hall and the stream) states the part of its price for
each component, for example 9 % VAT on admission to the performance and 21 % on the
stream. The components are `[{label, amount, vat_rate_bps}]` per ticket, their amounts
summing to the tier's price exactly; a tier without components is taxed at its one
`vat_rate_bps` as before.

Whatever a line actually carried (the price times the quantity, a pay-what-you-want
amount, or the part of a partly refunded order that was kept) is divided between the
components by `kit.money.allocate` with the components' amounts as weights. For a line
at the stated price that gives exactly quantity x amount per component; for a
pay-what-you-want bundle the chosen amount is divided in the stated proportions. The
parts always sum to the whole, so no cent is lost or taxed twice.

The order item keeps a copy of the components as sold (orders/models.py), so a later
edit of the tier never changes the VAT of what was sold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streamsvc.kit.money import allocate

MAX_COMPONENTS = 4
MAX_VAT_RATE_BPS = 5_000  # no VAT rate in the world is above 50 %; a typo is refused


def parts(
    amount: int, rate_bps: int, components: Sequence[Mapping[str, Any]]
) -> list[tuple[int, int]]:
    """`amount` as (part, VAT rate in bps) per component, the parts summing to `amount`;
    one part at `rate_bps` when there are no components."""
    if not components:
        return [(amount, rate_bps)]
    weights = [int(component["amount"]) for component in components]
    if not any(weights):
        return [(amount, rate_bps)]
    shares = allocate(amount, weights)
    return [(share, int(component["vat_rate_bps"]))
            for share, component in zip(shares, components, strict=True)]  # fmt: skip


def problems(components: Sequence[Mapping[str, Any]], price_amount: int) -> dict[str, str]:
    """What is wrong with a tier's components, by field path (empty: nothing)."""
    found: dict[str, str] = {}
    if not components:
        return found
    if len(components) > MAX_COMPONENTS:
        return {"components": f"at most {MAX_COMPONENTS} components"}
    if len(components) < 2:
        found["components"] = "a bundle has at least 2 components (or none: one VAT rate)"
    labels: set[str] = set()
    for position, component in enumerate(components):
        label = str(component["label"])
        if label.casefold() in labels:
            found[f"components[{position}].label"] = "each component needs its own label"
        labels.add(label.casefold())
        if int(component["amount"]) < 1:
            found[f"components[{position}].amount"] = "at least 1 (minor units)"
        if int(component["vat_rate_bps"]) > MAX_VAT_RATE_BPS:
            found[f"components[{position}].vat_rate_bps"] = f"at most {MAX_VAT_RATE_BPS} (50 %)"
    total = sum(int(component["amount"]) for component in components)
    if total != price_amount and "components" not in found:
        found["components"] = (
            f"the amounts sum to {total}; they must sum to price_amount ({price_amount}) exactly"
        )
    return found
