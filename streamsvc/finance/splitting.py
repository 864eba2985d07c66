"""Splitting an event's (or a recording's) money between VAT, the platform, costs and
the parties (a recording's rights holders among them).

The waterfall is computed per order from what Stripe reported (gross, refunds,
disputes not reinstated, fees) under the split-rule version the order was sold
with: orders alike are grouped in SQL, so a million orders cost one aggregate
query and a few hundred waterfall evaluations. Costs are recouped once per event,
from the latest rule version's list, against the version groups in version order.

Splits are cumulative. Each run computes the whole event as of now and posts, per
rule version, the difference from everything split before, under
`split:{event}:v{version}:{period}`. So a refund after a split takes back from
every party in proportion; a loss is carried (nothing is shared until revenue
covers it again); and a re-run, or a second run with nothing new, posts nothing.
Guarantees (finance/deals.py) are settled the same way, over the whole event.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import text
from sqlmodel import Session, col, select

from streamsvc.catalog import bundles
from streamsvc.catalog.coproducers import rules_in_force
from streamsvc.catalog.models import Event
from streamsvc.finance import accounts, deals, subjects
from streamsvc.finance.models import SplitPosting
from streamsvc.finance.posting import lock_event_ledger
from streamsvc.finance.subjects import Subject
from streamsvc.finance.waterfall import OrderMoney, Waterfall, waterfall
from streamsvc.ledger.service import Line, balances, post
from streamsvc.recordings.models import RecordingSplitRule

# The orders of a subject grouped by what they paid and how it is shared; `{items}`
# gives each order's lines as `amount:rate[:amount/rate;…]`.
_GROUPS = """
WITH money AS (
    SELECT order_id,
           coalesce(sum(amount) FILTER (WHERE kind = 'charge'), 0) AS gross,
           -coalesce(sum(amount) FILTER (WHERE kind IN ('refund', 'refund_failure')), 0)
               AS refunded,
           -coalesce(sum(amount) FILTER (WHERE kind IN ('dispute', 'dispute_reversal')), 0)
               AS disputed,
           sum(fee) AS fees
      FROM stripe_balance_transactions
     WHERE {column} = :subject_id AND currency = :currency
     GROUP BY order_id
), items AS ({items}
)
SELECT o.split_rule_version, items.lines, m.gross, m.refunded, m.disputed,
       sum(m.fees) AS fees, count(*) AS orders
  FROM money m
  JOIN orders o ON o.id = m.order_id
  JOIN items ON items.order_id = m.order_id
 GROUP BY o.split_rule_version, items.lines, m.gross, m.refunded, m.disputed
"""
_EVENT_ITEMS = """
    SELECT i.order_id,
           string_agg((i.quantity * i.unit_amount)::text || ':' || i.vat_rate_bps
                      -- a bundle's components as sold, appended as amount/rate;amount/rate
                      || CASE WHEN i.components = '[]'::jsonb THEN '' ELSE ':' || (
                             SELECT string_agg((c ->> 'amount') || '/' || (c ->> 'vat_rate_bps'),
                                               ';' ORDER BY n)
                               FROM jsonb_array_elements(i.components) WITH ORDINALITY AS x(c, n)
                         ) END, ','
                      ORDER BY i.position) AS lines
      FROM order_items i JOIN orders o ON o.id = i.order_id
     WHERE o.event_id = :subject_id
     GROUP BY i.order_id"""
# A recording's order is one offer, taxed at the offer's rate (offers never change).
_RECORDING_ITEMS = """
    SELECT o.id AS order_id, o.total_amount::text || ':' || f.vat_rate_bps AS lines
      FROM orders o JOIN recording_offers f ON f.id = o.recording_offer_id
     WHERE o.recording_id = :subject_id"""
_GROUPS_OF = {
    "event_id": text(_GROUPS.format(column="event_id", items=_EVENT_ITEMS)),
    "recording_id": text(_GROUPS.format(column="recording_id", items=_RECORDING_ITEMS)),
}


class Rule(Protocol):
    """A split rule version, of an event (catalog) or of a recording (recordings)."""

    version: int
    platform_fee_bps: int
    costs: list[dict[str, Any]]
    shares: list[dict[str, Any]]


def _rules(session: Session, subject: Subject) -> list[Rule]:
    """The versions in force, in version order. An event's version waiting for a
    co-producer's consent is not in force (catalog/coproducers.py); a recording's
    versions all are."""
    if subject.kind == "event":
        return list(rules_in_force(session, subject.id))
    versions = session.exec(
        select(RecordingSplitRule).where(RecordingSplitRule.recording_id == subject.id)
        .order_by(col(RecordingSplitRule.version))
    ).all()  # fmt: skip
    return list(versions)


def _parts(line: str) -> list[tuple[int, int]]:
    """An item line `total:rate[:amount/rate;…]` as (amount, VAT rate) per part: one
    part, or one per bundle component (catalog/bundles.py divides the line)."""
    total, rate, *bundle = line.split(":")
    components = [{"amount": int(amount), "vat_rate_bps": int(part_rate)}
                  for amount, part_rate in (c.split("/") for c in bundle[0].split(";"))
                  ] if bundle else []  # fmt: skip
    return bundles.parts(int(total), int(rate), components)


@dataclass(frozen=True)
class VersionSplit:
    version: int
    waterfall: Waterfall
    orders: int


def compute(session: Session, subject: Subject | Event) -> list[VersionSplit]:
    """The waterfall per split-rule version, from the stored balance transactions."""
    if isinstance(subject, Event):
        subject = subjects.of_event(subject)
    groups: dict[int, list[OrderMoney]] = defaultdict(list)
    fees: dict[int, int] = defaultdict(int)
    counts: dict[int, int] = defaultdict(int)
    # One pass over each table is cheapest here: parallel workers would each aggregate
    # everything again, and JIT costs more than it saves on this single query.
    session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    session.execute(text("SET LOCAL jit = off"))
    # Its joins and aggregates over every order spill to disk at the default 4 MB; the
    # query may hash in memory (per plan node, until this transaction ends).
    session.execute(text("SET LOCAL work_mem = '64MB'"))
    rows = session.execute(_GROUPS_OF[subject.column],
                           {"subject_id": subject.id, "currency": subject.currency})  # fmt: skip
    for version, lines, gross, refunded, disputed, group_fees, orders in rows:
        items = tuple(part for line in str(lines).split(",") for part in _parts(line))
        groups[version].append(OrderMoney(items=items, refunded=int(refunded),
                                          disputed_lost=int(disputed), paid=int(gross),
                                          count=int(orders)))  # fmt: skip
        fees[version] += int(group_fees)
        counts[version] += int(orders)
    rules = {rule.version: rule for rule in _rules(session, subject)}
    if not rules:
        return []
    latest = rules[max(rules)]
    # Season passes (passes/recognition.py): what the event recognised of them, net of
    # VAT already, with its part of their Stripe fees, split under the latest version.
    revenue_code, fees_code = accounts.pass_revenue(subject.id), accounts.pass_fees(subject.id)
    pass_money = balances(session, subject.venue_id, subject.currency, [revenue_code, fees_code])
    pass_net = -pass_money.get(revenue_code, 0)
    if pass_net or pass_money.get(fees_code, 0):
        groups.setdefault(latest.version, [])
        fees[latest.version] += pass_money.get(fees_code, 0)
    remaining = [(str(cost["label"]), int(cost["amount"])) for cost in latest.costs]
    splits = []
    for version in sorted(groups):
        rule = rules.get(version, latest)  # every order is sold under a version; be safe
        result = waterfall(
            groups[version], stripe_fees=fees[version], platform_fee_bps=rule.platform_fee_bps,
            costs=remaining, shares=[(accounts.party(share["party"]), int(share["bps"]))
                                     for share in rule.shares],
            pass_revenue=pass_net if version == latest.version else 0,
        )  # fmt: skip
        remaining = [(label, amount - taken) for (label, amount), (_, taken)
                     in zip(remaining, result.costs, strict=True)]  # fmt: skip
        splits.append(VersionSplit(version, result, counts[version]))
    return _guaranteed(splits, latest.shares)


def _guaranteed(splits: list[VersionSplit], shares: list[dict[str, Any]]) -> list[VersionSplit]:
    """The parties' parts with the guarantees of the version in force, settled once over
    the whole event (finance/deals.py); without guarantees, the waterfalls as they are."""
    guarantees = {accounts.party(share["party"]): int(share.get("guarantee_amount") or 0)
                  for share in shares}  # fmt: skip
    if not any(guarantees.values()):
        return splits
    groups = [
        (split.waterfall.distributable, [(party, bps) for party, bps, _ in split.waterfall.parties])
        for split in splits
    ]
    settled = deals.settle_versions(groups, guarantees)
    return [replace(split, waterfall=replace(split.waterfall, parties=tuple(
        (party, bps, amount) for (party, bps, _), amount
        in zip(split.waterfall.parties, parts, strict=True))))
        for split, parts in zip(splits, settled, strict=True)]  # fmt: skip


def targets(event_id: str, result: Waterfall) -> dict[str, int]:
    """What the ledger should hold for one version's split, by account (credit < 0)."""
    lines: dict[str, int] = defaultdict(int)
    lines[accounts.VAT_PAYABLE] -= result.vat
    lines[accounts.PLATFORM_FEES] -= result.platform_fee
    for position, (_, taken) in enumerate(result.costs):
        lines[accounts.cost_recouped(event_id, position)] -= taken
    for account, _, amount in result.parties:
        lines[account] -= amount
    lines[accounts.distribution(event_id)] = -sum(lines.values())
    return dict(lines)


def split_event(session: Session, event: Event, period: str, now: datetime) -> int:
    return split(session, subjects.of_event(event), period, now)


def split(session: Session, subject: Subject, period: str, now: datetime) -> int:
    """Post what changed in the subject's split since the last one; transactions posted."""
    lock_event_ledger(session, subject.id)
    posted = 0
    for version_split in compute(session, subject):
        before = split_so_far(session, subject, version_split.version)
        target = targets(subject.id, version_split.waterfall)
        delta = {code: target.get(code, 0) - before.get(code, 0)
                 for code in sorted(set(target) | set(before))}  # fmt: skip
        if not any(delta.values()):
            continue
        lines = [Line(code, amount, accounts.party_of(code)) for code, amount in delta.items()]
        done = post(
            session, venue_id=subject.venue_id,
            reference=f"split:{subject.id}:v{version_split.version}:{period}",
            currency=subject.currency, lines=lines, now=now, **subject.columns(),
            description=f"split under rule version {version_split.version} "
                        f"({version_split.orders} orders)",
        )  # fmt: skip
        if done is not None:
            session.add(_annex(session, subject, version_split, done.id, period=period, now=now))
            posted += 1
    return posted


_FIGURES = ("orders", "gross", "refunds", "disputes", "vat", "stripe_fees", "platform_fee",
            "costs", "distributable", "pass_revenue")  # fmt: skip


def _annex(session: Session, subject: Subject, split: VersionSplit, transaction_id: str, *,
           period: str, now: datetime) -> SplitPosting:  # fmt: skip
    """The waterfall of this split as the change since the previous split of the version."""
    result = split.waterfall
    current = {"orders": split.orders, "gross": result.gross, "refunds": result.refunds,
               "disputes": result.disputes, "vat": result.vat,
               "stripe_fees": result.stripe_fees, "platform_fee": result.platform_fee,
               "costs": sum(taken for _, taken in result.costs),
               "distributable": result.distributable,
               "pass_revenue": result.pass_revenue}  # fmt: skip
    sums = ", ".join(f"coalesce(sum({name}), 0)" for name in _FIGURES)
    before = session.execute(
        text(f"SELECT {sums} FROM split_postings "  # noqa: S608
             f"WHERE {subject.column} = :e AND version = :v"),
        {"e": subject.id, "v": split.version},
    ).one()  # fmt: skip
    changed = {name: current[name] - int(was) for name, was in zip(_FIGURES, before, strict=True)}
    by_rate = text(
        "SELECT r.key, sum(r.value::bigint) FROM split_postings sp, "  # noqa: S608
        f"jsonb_each_text(sp.vat_rates) AS r WHERE sp.{subject.column} = :e "
        "AND sp.version = :v GROUP BY r.key"
    )
    rates_before = {str(rate): int(amount) for rate, amount
                    in session.execute(by_rate, {"e": subject.id, "v": split.version})}  # fmt: skip
    rates_now = {str(rate): amount for rate, amount in result.vat_rates}
    vat_rates = {rate: rates_now.get(rate, 0) - rates_before.get(rate, 0)
                 for rate in sorted(set(rates_now) | set(rates_before), key=int)}  # fmt: skip
    return SplitPosting(
        transaction_id=transaction_id, venue_id=subject.venue_id,
        event_id=subject.columns()["event_id"], recording_id=subject.columns()["recording_id"],
        version=split.version, period=period, currency=subject.currency, posted_at=now,
        shares={account: bps for account, bps, _ in result.parties},
        vat_rates={rate: amount for rate, amount in vat_rates.items() if amount}, **changed,
    )  # fmt: skip


def split_so_far(
    session: Session, subject: Subject | str, version: int | None = None
) -> dict[str, int]:
    """What the split postings of an event (by id) or a subject (of one rule version, or
    all) hold, by account. Read through `split_postings`, which names every split
    transaction, so the many balance-transaction postings are never scanned."""
    column, subject_id = (("event_id", subject) if isinstance(subject, str)
                          else (subject.column, subject.id))  # fmt: skip
    rows = session.execute(text(f"""
        SELECT a.code, sum(e.amount) FROM split_postings sp
          JOIN ledger_entries e ON e.transaction_id = sp.transaction_id
          JOIN ledger_accounts a ON a.id = e.account_id
         WHERE sp.{column} = :subject_id
           AND (CAST(:version AS integer) IS NULL OR sp.version = :version)
         GROUP BY a.code
    """), {"subject_id": subject_id, "version": version})  # noqa: S608  # fmt: skip
    return {str(code): int(total) for code, total in rows}
