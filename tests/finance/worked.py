"""Three events whose money is worked out by hand, by PRODUCT.md's waterfall: the
oracles of the finance tests. Every expected figure below is a literal, with the
arithmetic that gives it; none is computed by the code under test.

The conventions, as the product states them and as worked here:

- Prices include VAT. An order's kept money (paid - refunded - lost in disputes) is
  spread over its item lines by their totals (largest remainder), and each line's
  part P at rate r (bps) holds VAT = P * r / (10000 + r), rounded to the nearest
  cent; an exact half cent stays with the net (the net is the earlier party).
- Stripe fees are what the balance transactions say: books.py charges
  25 + amount * 15 // 1000 per card charge, 1500 per dispute withdrawal (won or
  lost), nothing on refunds.
- The platform fee is its bps of revenue ex VAT, rounded to the nearest cent; an
  exact half cent goes to the platform (the earlier party).
- Costs are recouped in order from what is left, never below zero.
- The distributable is split by the shares, largest remainder, ties to the earlier
  party; a negative distributable is carried: nobody is paid, nothing is taken back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from starlette.testclient import TestClient

from streamsvc.db import Database
from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.kit.clock import FixedClock
from streamsvc.ledger.service import balances
from tests.finance.world import World, build

SEAT_VAT, STREAM_VAT = 900, 2100  # admission to a live performance; an electronic service


@dataclass(frozen=True)
class Table:
    """An event's whole waterfall (cumulative) after a split, as worked out by hand."""

    gross: int
    refunds: int
    disputes: int  # lost (withdrawn and not reinstated)
    vat_by_rate: dict[int, int]  # VAT rate in bps -> VAT at that rate
    stripe_fees: int
    platform_fee: int
    costs: tuple[tuple[str, int], ...]  # (label, recouped so far)
    distributable: int
    parties: tuple[int, ...]  # each party's amount, in the split rule's order (venue first)

    @property
    def vat(self) -> int:
        return sum(self.vat_by_rate.values())

    @property
    def revenue_ex_vat(self) -> int:
        return self.gross - self.refunds - self.disputes - self.vat

    @property
    def kept(self) -> int:
        """What Stripe holds for the event: the net of every balance transaction."""
        return self.gross - self.refunds - self.disputes - self.stripe_fees


@dataclass(frozen=True)
class Posting:
    """One split posting as the export shows it: the change since the previous one."""

    period: str
    posted_at: datetime
    gross: int
    refunds: int
    disputes: int
    vat: int
    stripe_fees: int
    platform_fee: int
    costs: int
    distributable: int
    parties: tuple[int, ...]  # each party's ledger entry (its export row), in rule order


@dataclass
class Worked:
    """An event played through the API with the splits worked out for it by hand."""

    world: World
    shares: tuple[int, ...]
    tables: list[Table] = field(default_factory=list)  # after each split, in order
    postings: tuple[Posting, ...] = ()  # each split posting, in order
    split_at: list[datetime] = field(default_factory=list)  # when each split was made


Check = Callable[[Worked], None]  # called after each split, with its table appended


def _unchecked(worked: Worked) -> None:
    pass


def _split(worked: Worked, at: datetime, period: str, table: Table, check: Check) -> None:
    world = worked.world
    outcome = reconcile_event(world.database, world.books, world.event["id"], at,
                              period=period)  # fmt: skip
    assert outcome.findings == 0
    worked.split_at.append(at)
    worked.tables.append(table)
    check(worked)


# a. The opera of the product text ----------------------------------------------------

OPERA_SPLIT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)

# Orders (tier 0: a seat at 8500 incl. 9 % VAT; tier 1: a stream at 2450 incl. 21 %):
#   1  2 seats           17000  card fee 25 + 17000 * 15 // 1000 = 25 + 255 = 280
#   2  1 stream           2450  fee 25 + 36 = 61; disputed and won: +1500 fee
#   3  1 seat + 1 stream 10950  fee 25 + 164 = 189; 4000 refunded (fee 0)
#   4  3 streams          7350  fee 25 + 110 = 135
#   5  1 stream           2450  fee 25 + 36 = 61; disputed and lost: +1500 fee
# gross    17000 + 2450 + 10950 + 7350 + 2450 = 40200
# refunds  4000; disputes lost 2450 (order 5; order 2's money was reinstated)
# fees     280 + 61 + 189 + 135 + 61 + 1500 + 1500 = 3726
# VAT, order by order, on what was kept:
#   1  17000 at 9 %: 17000 * 900 / 10900 = 15300000 / 10900 = 1403 r 7300 (> 5450) -> 1404
#   2  2450 at 21 %: 2450 * 2100 / 12100 = 5145000 / 12100 = 425 r 2500 (< 6050)    ->  425
#   3  kept 10950 - 4000 = 6950 over the lines 8500 and 2450 (of 10950):
#        seat   6950 * 8500 / 10950 = 59075000 / 10950 = 5394 r 10700
#        stream 6950 * 2450 / 10950 = 17027500 / 10950 = 1555 r 250
#        one cent left, to the larger remainder: seat 5395, stream 1555
#      seat   5395 * 900 / 10900 = 4855500 / 10900 = 445 r 5000 (< 5450)            ->  445
#      stream 1555 * 2100 / 12100 = 3265500 / 12100 = 269 r 10600 (> 6050)          ->  270
#   4  7350 at 21 %: 15435000 / 12100 = 1275 r 7500 (> 6050)                        -> 1276
#   5  nothing kept                                                                  ->    0
#   at 9 %: 1404 + 445 = 1849; at 21 %: 425 + 270 + 1276 = 1971; VAT 3820
# revenue ex VAT  40200 - 4000 - 2450 - 3820 = 29930
# platform fee    5 % of 29930 = 1496.5, a half cent: to the platform -> 1497
# left            29930 - 3726 - 1497 = 24707; stream production 5000 recouped in full
# distributable   24707 - 5000 = 19707
# parties 40/20/20/20 %: 7882.8, 3941.4, 3941.4, 3941.4; floors 7882 + 3 * 3941 = 19705;
#   two cents left: the venue's .8, then the first performer's .4 (the earliest of equals)
#   -> 7883, 3942, 3941, 3941 (sum 19707)
OPERA = Table(
    gross=40200, refunds=4000, disputes=2450, vat_by_rate={SEAT_VAT: 1849, STREAM_VAT: 1971},
    stripe_fees=3726, platform_fee=1497, costs=(("stream production", 5000),),
    distributable=19707, parties=(7883, 3942, 3941, 3941),
)  # fmt: skip
OPERA_POSTING = Posting(
    period="2026-11", posted_at=OPERA_SPLIT, gross=40200, refunds=4000, disputes=2450,
    vat=3820, stripe_fees=3726, platform_fee=1497, costs=5000, distributable=19707,
    parties=(7883, 3942, 3941, 3941),
)  # fmt: skip


def opera(client: TestClient, database: Database, clock: FixedClock,
          check: Check = _unchecked) -> Worked:  # fmt: skip
    """Tosca in a hall and on a stream: venue 40 %, three singers 20 % each, platform
    5 %, stream production 5000 recouped first; a refund, a won and a lost dispute."""
    world = build(
        client, database, clock, tiers=[(8500, SEAT_VAT, 100), (2450, STREAM_VAT, None)],
        platform_fee_bps=500, costs=[5000], cost_labels=["stream production"],
        shares=[4000, 2000, 2000, 2000], venue_name="Opera Zuid", title="Tosca",
    )  # fmt: skip
    seats, won, mixed, streams, lost = (
        world.buy([(0, 2)]), world.buy([(1, 1)]), world.buy([(0, 1), (1, 1)]),
        world.buy([(1, 3)]), world.buy([(1, 1)]),
    )  # fmt: skip
    assert [o["total_amount"] for o in (seats, won, mixed, streams, lost)] == [
        17000, 2450, 10950, 7350, 2450]  # fmt: skip
    world.refund(mixed, 4000)
    world.dispute(won, won=True)
    world.dispute(lost, won=False)
    worked = Worked(world, (4000, 2000, 2000, 2000), postings=(OPERA_POSTING,))
    _split(worked, OPERA_SPLIT, "2026-11", OPERA, check)
    return worked


# b. A loss carried, then recovered ----------------------------------------------------

CARRY_SPLITS = (datetime(2026, 11, 10, 10, 0, tzinfo=UTC),
                datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
                datetime(2026, 11, 30, 10, 0, tzinfo=UTC))  # fmt: skip

# One stream tier at 2000 incl. 21 % VAT, bought two at a time (a 4000 line); platform
# 10 %, stream production 5000, venue 60 %, one performer 40 %.
# Split 1: order A (1 stream, 2000) lost in a dispute, order B (1 stream) fully refunded.
#   gross 4000, refunds 2000, disputes 2000, nothing kept: VAT 0, revenue ex VAT 0,
#   platform fee 0 (no revenue); fees 2 * (25 + 30) + 1500 = 1610
#   left 0 - 1610 - 0 = -1610: nothing to recoup, a loss of 1610 carried, nobody paid.
CARRY_1 = Table(
    gross=4000, refunds=2000, disputes=2000, vat_by_rate={STREAM_VAT: 0}, stripe_fees=1610,
    platform_fee=0, costs=(("stream production", 0),), distributable=-1610, parties=(0, 0),
)  # fmt: skip
# Split 2: order C, 2 streams (4000), fee 25 + 60 = 85.
#   gross 8000, refunds 2000, disputes 2000; VAT of C: 4000 * 2100 / 12100 = 8400000 /
#   12100 = 694 r 2600 (< 6050) -> 694; revenue ex VAT 8000 - 4000 - 694 = 3306
#   fees 1610 + 85 = 1695; platform 10 % of 3306 = 330.6 -> 331
#   left 3306 - 1695 - 331 = 1280: the loss is recovered; 1280 of the 5000 recouped;
#   distributable 0, nobody paid yet.
CARRY_2 = Table(
    gross=8000, refunds=2000, disputes=2000, vat_by_rate={STREAM_VAT: 694}, stripe_fees=1695,
    platform_fee=331, costs=(("stream production", 1280),), distributable=0, parties=(0, 0),
)  # fmt: skip
# Split 3: orders D and E, 2 streams each, like C.
#   gross 16000; VAT 3 * 694 = 2082; revenue ex VAT 16000 - 4000 - 2082 = 9918
#   fees 1610 + 3 * 85 = 1865; platform 10 % of 9918 = 991.8 -> 992
#   left 9918 - 1865 - 992 = 7061; production 5000 recouped in full; distributable 2061
#   venue 60 % = 1236.6, performer 40 % = 824.4; one cent left, to the .6: 1237, 824
CARRY_3 = Table(
    gross=16000, refunds=2000, disputes=2000, vat_by_rate={STREAM_VAT: 2082}, stripe_fees=1865,
    platform_fee=992, costs=(("stream production", 5000),), distributable=2061,
    parties=(1237, 824),
)  # fmt: skip
# Split 1 changes nothing in the ledger (nobody is owed anything): no posting. Split 2
# posts VAT, fee and cost (a change from nothing); split 3 the change from split 2.
CARRY_POSTINGS = (
    Posting(period="p2", posted_at=CARRY_SPLITS[1], gross=8000, refunds=2000, disputes=2000,
            vat=694, stripe_fees=1695, platform_fee=331, costs=1280, distributable=0,
            parties=(0, 0)),
    Posting(period="p3", posted_at=CARRY_SPLITS[2], gross=16000 - 8000, refunds=0, disputes=0,
            vat=2082 - 694, stripe_fees=1865 - 1695, platform_fee=992 - 331, costs=5000 - 1280,
            distributable=2061, parties=(1237, 824)),
)  # fmt: skip


def carried_loss(client: TestClient, database: Database, clock: FixedClock,
                 check: Check = _unchecked) -> Worked:  # fmt: skip
    """A loss first (a lost dispute and a refund with their fees), carried, then sales."""
    world = build(
        client, database, clock, tiers=[(2000, STREAM_VAT, None)], platform_fee_bps=1000,
        costs=[5000], cost_labels=["stream production"], shares=[6000, 4000],
        venue_name="Jazz Archief", title="Late Night Replay",
    )  # fmt: skip
    worked = Worked(world, (6000, 4000), postings=CARRY_POSTINGS)
    lost, refunded = world.buy([(0, 1)]), world.buy([(0, 1)])
    world.dispute(lost, won=False)
    world.refund(refunded, 2000)
    _split(worked, CARRY_SPLITS[0], "p1", CARRY_1, check)
    world.buy([(0, 2)])
    _split(worked, CARRY_SPLITS[1], "p2", CARRY_2, check)
    world.buy([(0, 2)])
    world.buy([(0, 2)])
    _split(worked, CARRY_SPLITS[2], "p3", CARRY_3, check)
    return worked


# c. A refund after a split ------------------------------------------------------------

REFUND_SPLITS = (datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
                 datetime(2026, 12, 1, 10, 0, tzinfo=UTC))  # fmt: skip

# Tier 0: a seat at 6000 incl. 9 %; tier 1: a stream at 2450 incl. 21 %. Platform 5 %,
# costs 3000, venue 50 %, performers 30 % and 20 %.
#   1  2 seats           12000  fee 25 + 180 = 205
#   2  2 streams          4900  fee 25 + 73 = 98
#   3  1 seat + 1 stream  8450  fee 25 + 126 = 151
# Split 1: gross 25350, fees 454.
#   VAT 1  12000 * 900 / 10900 = 10800000 / 10900 = 990 r 9000 (> 5450) -> 991
#       2  4900 * 2100 / 12100 = 10290000 / 12100 = 850 r 5000 (< 6050) -> 850
#       3  kept as listed: seat 6000 -> 5400000 / 10900 = 495 r 4500 -> 495;
#          stream 2450 -> 425 (as in the opera)
#       at 9 %: 991 + 495 = 1486; at 21 %: 850 + 425 = 1275; VAT 2761
#   revenue ex VAT 25350 - 2761 = 22589; platform 5 % = 1129.45 -> 1129
#   left 22589 - 454 - 1129 = 21006; costs 3000; distributable 18006
#   50/30/20 %: 9003, 5401.8, 3601.2; one cent left, to the .8: 9003, 5402, 3601
REFUND_1 = Table(
    gross=25350, refunds=0, disputes=0, vat_by_rate={SEAT_VAT: 1486, STREAM_VAT: 1275},
    stripe_fees=454, platform_fee=1129, costs=(("hall crew", 3000),), distributable=18006,
    parties=(9003, 5402, 3601),
)  # fmt: skip
# Then one seat of order 1 is refunded (6000, fee 0). Split 2:
#   order 1 keeps 6000: 6000 * 900 / 10900 -> 495 (as order 3's seat)
#   at 9 %: 495 + 495 = 990; at 21 %: 1275; VAT 2265
#   revenue ex VAT 25350 - 6000 - 2265 = 17085; platform 5 % = 854.25 -> 854
#   left 17085 - 454 - 854 = 15777; costs 3000; distributable 12777
#   50/30/20 %: 6388.5, 3833.1, 2555.4; one cent left, to the .5: 6389, 3833, 2555
REFUND_2 = Table(
    gross=25350, refunds=6000, disputes=0, vat_by_rate={SEAT_VAT: 990, STREAM_VAT: 1275},
    stripe_fees=454, platform_fee=854, costs=(("hall crew", 3000),), distributable=12777,
    parties=(6389, 3833, 2555),
)  # fmt: skip
# The second posting takes back from each party what its part fell by:
#   6389 - 9003 = -2614, 3833 - 5402 = -1569, 2555 - 3601 = -1046 (sum -5229)
REFUND_POSTINGS = (
    Posting(period="2026-11", posted_at=REFUND_SPLITS[0], gross=25350, refunds=0, disputes=0,
            vat=2761, stripe_fees=454, platform_fee=1129, costs=3000, distributable=18006,
            parties=(9003, 5402, 3601)),
    Posting(period="2026-12", posted_at=REFUND_SPLITS[1], gross=0, refunds=6000, disputes=0,
            vat=-496, stripe_fees=0, platform_fee=-275, costs=0, distributable=-5229,
            parties=(-2614, -1569, -1046)),
)  # fmt: skip


def refund_after_split(client: TestClient, database: Database, clock: FixedClock,
                       check: Check = _unchecked) -> Worked:  # fmt: skip
    """A hall concert with streams, split in November; a seat refunded in December."""
    world = build(
        client, database, clock, tiers=[(6000, SEAT_VAT, 50), (2450, STREAM_VAT, None)],
        platform_fee_bps=500, costs=[3000], cost_labels=["hall crew"],
        shares=[5000, 3000, 2000], venue_name="Muziekgebouw", title="Winterreise",
    )  # fmt: skip
    worked = Worked(world, (5000, 3000, 2000), postings=REFUND_POSTINGS)
    seats = world.buy([(0, 2)])
    world.buy([(1, 2)])
    world.buy([(0, 1), (1, 1)])
    _split(worked, REFUND_SPLITS[0], "2026-11", REFUND_1, check)
    world.refund(seats, 6000)
    _split(worked, REFUND_SPLITS[1], "2026-12", REFUND_2, check)
    return worked


# Checks of what the system holds against a table -------------------------------------


def expected_statement(worked: Worked, table: Table) -> dict[str, Any]:
    """The statement the API must answer, from the hand-worked table."""
    parties = [{"party": {"type": party["type"], "id": party["id"]}, "bps": bps, "amount": amount}
               for party, bps, amount in zip(worked.world.parties, worked.shares, table.parties,
                                             strict=True)]  # fmt: skip
    return {
        "event_id": worked.world.event["id"], "currency": "EUR", "gross": table.gross,
        "refunds": table.refunds, "disputes": table.disputes, "vat": table.vat,
        "vat_rates": [{"rate_bps": rate, "vat": vat}
                      for rate, vat in sorted(table.vat_by_rate.items()) if vat],
        "pass_revenue": 0, "pass_fees": 0,  # no season passes in these worked events
        "revenue_ex_vat": table.revenue_ex_vat, "stripe_fees": table.stripe_fees,
        "platform_fee": table.platform_fee,
        "costs": [{"label": label, "amount": amount} for label, amount in table.costs],
        "distributable": table.distributable, "parties": parties,
        "undistributed": table.distributable - sum(table.parties),
    }  # fmt: skip


def expected_balances(worked: Worked, table: Table) -> dict[str, int]:
    """Every non-zero ledger balance of the (single-event) venue, by account code."""
    e = worked.world.event["id"]
    split_off = table.vat + table.platform_fee + sum(a for _, a in table.costs) + sum(table.parties)
    held = {
        "stripe_balance": table.kept, f"sales:{e}": -table.gross, f"refunds:{e}": table.refunds,
        f"disputes:{e}": table.disputes, f"stripe_fees:{e}": table.stripe_fees,
        "vat_payable": -table.vat, "platform_fees": -table.platform_fee,
        f"distribution:{e}": split_off,
        **{f"costs_recouped:{e}:{i}": -amount for i, (_, amount) in enumerate(table.costs)},
        **{party_account(party): -amount
           for party, amount in zip(worked.world.parties, table.parties, strict=True)},
    }  # fmt: skip
    return {code: amount for code, amount in held.items() if amount}


def party_account(party: dict[str, Any]) -> str:
    return f"payable:{party['type']}:{party['id']}"


def posting_reference(worked: Worked, posting: Posting) -> str:
    return f"split:{worked.world.event['id']}:v1:{posting.period}"


def expected_entries(worked: Worked, posting: Posting) -> dict[str, int]:
    """The entries of a split transaction by account (credits < 0), non-zero ones.
    `costs` is one figure: every table here has a single cost, at position 0."""
    e = worked.world.event["id"]
    entries = {
        "vat_payable": -posting.vat, "platform_fees": -posting.platform_fee,
        f"costs_recouped:{e}:0": -posting.costs,
        **{party_account(party): -amount
           for party, amount in zip(worked.world.parties, posting.parties, strict=True)},
    }  # fmt: skip
    entries[f"distribution:{e}"] = -sum(entries.values())
    return {code: amount for code, amount in entries.items() if amount}


def held(database: Database, venue_id: str) -> dict[str, int]:
    with database.unit_of_work() as uow:
        return {code: amount for code, amount in balances(uow.session, venue_id, "EUR").items()
                if amount}  # fmt: skip


def split_transactions(database: Database, event_id: str) -> dict[str, dict[str, int]]:
    """The event's split transactions: reference -> account code -> entry."""
    with database.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT t.reference, a.code, e.amount FROM ledger_transactions t "
            "JOIN ledger_entries e ON e.transaction_id = t.id "
            "JOIN ledger_accounts a ON a.id = e.account_id "
            "WHERE t.event_id = :e AND starts_with(t.reference, 'split:')"
        ), {"e": event_id}).all()  # fmt: skip
    found: dict[str, dict[str, int]] = {}
    for reference, code, amount in rows:
        found.setdefault(str(reference), {})[str(code)] = int(amount)
    return found


def check_books(worked: Worked) -> None:
    """After a split: the statement and every ledger balance are the latest table, and the
    split transactions posted so far are exactly the hand-worked postings made by then."""
    world, table = worked.world, worked.tables[-1]
    done = [p for p in worked.postings if p.posted_at <= worked.split_at[-1]]
    statement = world.statement()
    split_at = statement.pop("split_at")
    assert statement == expected_statement(worked, table)
    assert (datetime.fromisoformat(split_at) if split_at else None) == (
        done[-1].posted_at if done else None)  # fmt: skip
    assert held(world.database, world.venue.id) == expected_balances(worked, table)
    assert split_transactions(world.database, world.event["id"]) == {
        posting_reference(worked, p): expected_entries(worked, p) for p in done
    }
