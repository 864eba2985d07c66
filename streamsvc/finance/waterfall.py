"""The money waterfall of one event (PRODUCT.md), computed exactly in minor units.

    gross paid by buyers (prices include VAT)
    - refunds and lost disputes
    - VAT (per tier rate, or per bundle component's rate, on what was kept)
    - Stripe fees actually charged (given, as read from balance transactions)
    - platform fee (basis points of revenue ex VAT)
    - recouped costs, in the order given, never below zero
    = distributable net, split by shares in basis points summing to 10000

Every split goes through `kit.money.allocate`, so every part sums to its whole. A
negative distributable is carried over, not split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from streamsvc.kit.money import allocate


@dataclass(frozen=True)
class OrderMoney:
    """One order: what each item line cost (VAT included) and what happened to the money."""

    items: tuple[tuple[int, int], ...]  # (line total, VAT rate in bps) per item
    refunded: int = 0
    disputed_lost: int = 0  # the amount of a lost dispute
    paid: int | None = None  # what Stripe charged, when known; else the items' sum
    count: int = 1  # this many orders exactly alike (the VAT is computed once for them)

    @property
    def gross(self) -> int:
        """What one such order paid."""
        return self.paid if self.paid is not None else sum(total for total, _ in self.items)


@dataclass(frozen=True)
class Waterfall:
    gross: int
    refunds: int
    disputes: int
    vat: int
    stripe_fees: int
    platform_fee: int
    costs: tuple[tuple[str, int], ...]  # (label, recouped)
    distributable: int  # negative: carried over, nothing shared
    parties: tuple[tuple[str, int, int], ...]  # (party, bps, amount)
    # The VAT by rate, (rate in bps, VAT), rates ascending, summing to `vat`: a bundle
    # (catalog/bundles.py) taxes its parts at their own rates. Rates without VAT left out.
    vat_rates: tuple[tuple[int, int], ...] = ()
    # Season pass money recognised for the event (passes/recognition.py): net of VAT,
    # whose VAT was due at payment, so it joins revenue ex VAT as it is.
    pass_revenue: int = 0

    @property
    def revenue_ex_vat(self) -> int:
        return self.gross - self.refunds - self.disputes - self.vat + self.pass_revenue


def vat_of(orders: Sequence[OrderMoney]) -> int:
    """VAT on what buyers kept paying: each order's kept money is spread over its items
    (by line total), and each item's share is split into net and VAT by its rate."""
    return sum(vat for _, vat in vat_by_rate(orders))


def vat_by_rate(orders: Sequence[OrderMoney]) -> tuple[tuple[int, int], ...]:
    """`vat_of` per rate: (rate in bps, VAT), rates ascending, only those with VAT. A
    bundle's item arrives here as one item per component, each with its own rate."""
    by_rate: dict[int, int] = {}
    for order in orders:
        kept = order.gross - order.refunded - order.disputed_lost
        if kept <= 0 or not any(total for total, _ in order.items):
            continue
        shares = allocate(kept, [total for total, _ in order.items])
        for share, (_, rate) in zip(shares, order.items, strict=True):
            vat = order.count * (allocate(share, [10_000, rate])[1] if rate else 0)
            if vat:
                by_rate[rate] = by_rate.get(rate, 0) + vat
    return tuple(sorted(by_rate.items()))


def waterfall(
    orders: Sequence[OrderMoney],
    *,
    stripe_fees: int,
    platform_fee_bps: int,
    costs: Sequence[tuple[str, int]],
    shares: Sequence[tuple[str, int]],
    pass_revenue: int = 0,
) -> Waterfall:
    gross = sum(order.gross * order.count for order in orders)
    refunds = sum(order.refunded * order.count for order in orders)
    disputes = sum(order.disputed_lost * order.count for order in orders)
    vat_rates = vat_by_rate(orders)
    vat = sum(amount for _, amount in vat_rates)
    revenue_ex_vat = gross - refunds - disputes - vat + pass_revenue
    platform_fee = (
        allocate(revenue_ex_vat, [platform_fee_bps, 10_000 - platform_fee_bps])[0]
        if revenue_ex_vat > 0 and platform_fee_bps
        else 0
    )
    left = revenue_ex_vat - stripe_fees - platform_fee
    recouped = []
    for label, amount in costs:
        taken = max(0, min(amount, left))
        recouped.append((label, taken))
        left -= taken
    parties: tuple[tuple[str, int, int], ...] = ()
    if left > 0:
        amounts = allocate(left, [bps for _, bps in shares])
        parties = tuple((party, bps, amount)
                        for (party, bps), amount in zip(shares, amounts, strict=True))  # fmt: skip
    else:
        parties = tuple((party, bps, 0) for party, bps in shares)
    return Waterfall(
        gross=gross, refunds=refunds, disputes=disputes, vat=vat, stripe_fees=stripe_fees,
        platform_fee=platform_fee, costs=tuple(recouped), distributable=left, parties=parties,
        vat_rates=vat_rates, pass_revenue=pass_revenue,
    )  # fmt: skip
