"""The ledger benchmark's money, recomputed without the code under test.

What `bench.ledger` pre-loads is a plan: order i buys tier i % 3, two tickets when
i % 4 = 0, one otherwise; i % 20 = 3 is refunded (10 + i / 20 % 41) % of its total,
i % 500 = 7 disputed, and won when i % 1000 = 7. Stripe's card fee is 1.5 % + 25
on a charge, DISPUTE_FEE on a dispute. From that plan alone (not the tables, and no
streamsvc function) this module computes:

- per order, for a sample that includes refunds and disputes won and lost: what its
  balance transactions must have posted, account by account (the Stripe fee, the
  net into the Stripe balance, sales, refunds, disputes);
- for the event: gross, refunds, lost disputes, Stripe fees, VAT (each order's kept
  money split into net and VAT at its tier's rate), the platform fee, the recouped
  cost and each party's share, each by the largest-remainder rule of CONVENTIONS.md
  (floors, then the units left to the largest remainders, ties to the earlier part),
  written out here again;

and compares them with what the ledger holds. Any difference fails the benchmark.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

import psycopg

from bench.load import BenchmarkFailed

SAMPLE = 300  # orders spread over the event, besides the refunded and disputed ones


def largest_remainder(total: int, weights: list[int]) -> list[int]:
    """`total` split in proportion to `weights`: floors, then one unit each to the
    largest remainders, ties to the earlier weight; a negative total mirrored."""
    if total < 0:
        return [-part for part in largest_remainder(-total, weights)]
    whole = sum(weights)
    parts = [total * w // whole for w in weights]
    ranked = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in ranked[: total - sum(parts)]:
        parts[i] += 1
    return parts


def planned_order(i: int, tiers: tuple[tuple[str, str, int, int], ...]) -> dict[str, Any]:
    """Order i of the plan: its total, VAT rate, refund and dispute."""
    _, _, price, vat = tiers[i % 3]
    total = (2 if i % 4 == 0 else 1) * price
    refund = total * (10 + i // 20 % 41) // 100 if i % 20 == 3 else 0
    disputed, won = i % 500 == 7, i % 1000 == 7
    return {"total": total, "vat_bps": vat, "refund": refund, "disputed": disputed,
            "lost": disputed and not won, "fee": 25 + total * 15 // 1000}  # fmt: skip


def expected_postings(order: dict[str, Any], event: str, dispute_fee: int) -> dict[str, int]:
    """Account -> sum of what the order's balance transactions post (debit > 0)."""
    total, fee = order["total"], order["fee"]
    lines = {"stripe_balance": total - fee, f"stripe_fees:{event}": fee, f"sales:{event}": -total}
    if order["refund"]:
        lines["stripe_balance"] -= order["refund"]
        lines[f"refunds:{event}"] = order["refund"]
    if order["disputed"]:
        lines["stripe_balance"] -= total + dispute_fee
        lines[f"stripe_fees:{event}"] += dispute_fee
        lines[f"disputes:{event}"] = total
        if not order["lost"]:  # reinstated
            lines["stripe_balance"] += total
            lines[f"disputes:{event}"] -= total
    return {code: amount for code, amount in lines.items() if amount}


def expected_split(orders: int, plan: dict[str, Any]) -> dict[str, int]:
    """Account -> balance of the event's ledger after posting and one split (credit < 0)."""
    event, tiers = plan["event"], plan["tiers"]
    gross = refunds = disputes = fees = vat = 0
    for i in range(1, orders + 1):
        order = planned_order(i, tiers)
        gross += order["total"]
        refunds += order["refund"]
        disputes += order["total"] if order["lost"] else 0
        fees += order["fee"] + (plan["dispute_fee"] if order["disputed"] else 0)
        kept = order["total"] - order["refund"] - (order["total"] if order["lost"] else 0)
        if kept > 0:  # prices include VAT: kept = net + VAT at the tier's rate
            vat += largest_remainder(kept, [10_000, order["vat_bps"]])[1]
    revenue_ex_vat = gross - refunds - disputes - vat
    platform = largest_remainder(
        revenue_ex_vat, [plan["platform_bps"], 10_000 - plan["platform_bps"]]
    )[0]
    left = revenue_ex_vat - fees - platform
    accounts = {f"sales:{event}": -gross, f"refunds:{event}": refunds,
                f"disputes:{event}": disputes, f"stripe_fees:{event}": fees,
                "vat_payable": -vat, "platform_fees": -platform}  # fmt: skip
    for position, cost in enumerate(plan["costs"]):
        taken = max(0, min(cost, left))
        accounts[f"costs_recouped:{event}:{position}"] = -taken
        left -= taken
    if left > 0:
        shares = largest_remainder(left, [bps for _, bps in plan["shares"]])
        for (party, _), amount in zip(plan["shares"], shares, strict=True):
            accounts[f"payable:{party}"] = -amount
    return {code: amount for code, amount in accounts.items() if amount}


def sample(orders: int) -> list[int]:
    step = max(1, orders // SAMPLE)
    chosen = set(range(1, orders + 1, step))
    chosen |= {i for i in range(3, min(orders, 2000) + 1, 20)}  # refunded
    chosen |= {i for i in range(7, orders + 1, 500)}  # disputed, won and lost
    return sorted(chosen)


_ORDER_POSTINGS = """
SELECT b.order_id, a.code, sum(e.amount)
  FROM stripe_balance_transactions b
  JOIN ledger_transactions t ON t.reference = 'bt:' || b.id
  JOIN ledger_entries e ON e.transaction_id = t.id
  JOIN ledger_accounts a ON a.id = e.account_id
 WHERE b.order_id = ANY(%s)
 GROUP BY 1, 2
"""

_EVENT_BALANCES = """
SELECT a.code, sum(e.amount) FROM ledger_entries e
  JOIN ledger_transactions t ON t.id = e.transaction_id
  JOIN ledger_accounts a ON a.id = e.account_id
 WHERE t.event_id = %s
 GROUP BY a.code
"""


def check(libpq: str, orders: int, plan: dict[str, Any]) -> dict[str, Any]:
    """Compare the ledger with the plan's money; BenchmarkFailed on any difference."""
    event = plan["event"]
    chosen = sample(orders)
    # the pre-loading's ids: 'ord_' || substr(md5('order:' || i), 1, 20)
    ids = {f"ord_{hashlib.md5(f'order:{i}'.encode()).hexdigest()[:20]}": i for i in chosen}
    with psycopg.connect(libpq) as conn:
        posted: dict[str, dict[str, int]] = defaultdict(dict)
        for order_id, code, amount in conn.execute(_ORDER_POSTINGS, (list(ids),)):
            if int(amount):
                posted[order_id][code] = int(amount)
        balances = {code: int(amount) for code, amount in conn.execute(_EVENT_BALANCES, (event,))
                    if int(amount)}  # fmt: skip
    wrong_orders = []
    for order_id, i in ids.items():
        want = expected_postings(planned_order(i, plan["tiers"]), event, plan["dispute_fee"])
        if posted.get(order_id, {}) != want:
            wrong_orders.append((i, want, posted.get(order_id, {})))
    want_event = expected_split(orders, plan)
    # The distribution account and the Stripe balance are what the others leave over.
    got_event = {code: amount for code, amount in balances.items()
                 if not code.startswith(("distribution:", "stripe_balance", "stripe_pending"))}  # fmt: skip
    wrong_accounts = {code: (want_event.get(code, 0), got_event.get(code, 0))
                      for code in set(want_event) | set(got_event)
                      if want_event.get(code, 0) != got_event.get(code, 0)}  # fmt: skip
    if wrong_orders or wrong_accounts:
        raise BenchmarkFailed(
            "ledger: the ledger differs from the bench's own computation: "
            f"{len(wrong_orders)} of {len(ids)} sampled orders, e.g. {wrong_orders[:2]} "
            f"(order i, expected, posted); event accounts (expected, ledger): {wrong_accounts}"
        )
    return {"sampled_orders": len(ids), "event_accounts_checked": sorted(want_event),
            "vat": -want_event.get("vat_payable", 0),
            "stripe_fees": want_event.get(f"stripe_fees:{event}", 0)}  # fmt: skip
