"""The money of season passes: deferred at payment, recognised per event, refunded.

A pass is paid before the events it pays for take place, so its money belongs to no
event yet. The ledger follows the money in three kinds of transaction, each posted
once (its reference names the holding, and the event or refund):

`pass:{holding}:paid`, when Stripe reports the payment P with its fee F: VAT is due
on an advance payment, so it is posted at once at the pass's rate, and only the net
is deferred, on a liability account of the pass product:

    stripe_balance                 + (P - F)
    deferred_fees:pass:{pass}      + F
    vat_payable                    - V        V = the VAT part of P (kit.money.allocate)
    deferred:pass:{pass}           - N        N = P - V

In the same transaction the pass's money is divided over the events it covers at
that moment (events of the series added before the payment and not over by then):
N, V and F each by the pass's weights (equal, or each event's pass-tier list price)
through `allocate`, one `pass_shares` row per event. Shares never change after; each
is settled exactly once, either way:

`pass:{holding}:recognise:{event}`, when the event has ended: its share becomes the
event's pass revenue, and its fee share the event's pass fees; the event's split
(finance/splitting.py) then runs it through the waterfall like ticket revenue, net of
VAT already:

    deferred:pass:{pass}  + n      pass_revenue:{event}       - n
    pass_fees:{event}     + f      deferred_fees:pass:{pass}  - f

`pass:{holding}:refund:{refund}`, when shares are returned (the pass is refunded, or a
covered event cancelled): the holder gets n + v of each; the fee share stays with
Stripe and is borne by the venue:

    deferred:pass:{pass}        + Σn     vat_payable   + Σv     stripe_balance  - Σ(n + v)
    pass_fees_kept:pass:{pass}  + Σf     deferred_fees:pass:{pass}  - Σf

So at every moment, per pass: recognised + deferred + VAT + refunds = payments, to
the cent (`pass_money`), and a refund only ever reduces deferred revenue.

Money can also leave a pass outside this path: a refund made in Stripe's dashboard, a
lost dispute; and a refund of ours can fail. passes/outside.py takes such money out of
the deferred shares (`pass_share_returns`: each share's part), or puts it back; what
is recognised or refunded here is what is left of a share (`left_of`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session, col, select

from streamsvc.catalog.events import status_of
from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.catalog.models import Event, Tier
from streamsvc.db import Database, emit
from streamsvc.errors import Conflict, ServiceError
from streamsvc.finance import accounts
from streamsvc.finance.posting import lock_event_ledger
from streamsvc.finance.splitting import split_event
from streamsvc.kit.money import allocate
from streamsvc.ledger.service import Line, post
from streamsvc.orders.buying import lock_order
from streamsvc.orders.events import TicketStatusChanged
from streamsvc.orders.models import Order, OrderDisputeStatus, OrderStatus, Ticket, TicketStatus
from streamsvc.orders.refunds import PASS_ORIGIN, request_refund
from streamsvc.passes.coverage import sync_date_range
from streamsvc.passes.models import (
    PassClaim,
    PassEvent,
    PassHolding,
    PassProduct,
    PassShare,
    PassShareReturn,
    ShareState,
    Weighting,
)
from streamsvc.payments.gateway import BalanceReader
from streamsvc.payments.models import Refund

log = logging.getLogger(__name__)
OVER = (EventStatus.ended, EventStatus.cancelled)
IN_FORCE = frozenset({OrderStatus.paid, OrderStatus.partially_refunded})
# The kinds of posting (`pass:{holding}:{kind}:…`) that move a pass's money back out of
# Stripe, or back in when a refund failed (passes/outside.py).
RETURN_KINDS = ("refund", "refund_failed", "outside", "outside_failed", "dispute")


def weights_of(product: PassProduct, tiers: Sequence[Tier]) -> list[int]:
    """The pass's weights over its covered events' pass tiers, in the same order."""
    if product.weighting == Weighting.list_price:
        prices = [tier.price_amount for tier in tiers]
        if any(prices):
            return prices
    return [1] * len(tiers)  # equal, or list prices that are all 0


def divide(total: int, weights: Sequence[int]) -> list[int]:
    """`total` over the weights (largest remainder); nothing to divide over: []."""
    return allocate(total, weights) if weights else []


def covered_at(
    session: Session, product: PassProduct, moment: datetime
) -> list[tuple[Event, Tier]]:
    """The events a pass paid at `moment` covers, in start order: in the series by then,
    and neither over nor cancelled then."""
    rows = session.exec(
        select(Event, Tier).join(PassEvent, col(PassEvent.event_id) == col(Event.id))
        .join(Tier, col(Tier.id) == col(PassEvent.tier_id))
        .where(PassEvent.pass_id == product.id, col(PassEvent.added_at) <= moment)
        .order_by(col(Event.starts_at), col(Event.id))
    ).all()  # fmt: skip
    return [(event, tier) for event, tier in rows
            if status_of(event, moment) not in OVER]  # fmt: skip


# -- the payment ---------------------------------------------------------------------------


def awaiting_collection(session: Session, limit: int = 200) -> list[str]:
    """Paid pass orders whose payment is not posted yet (no shares, no posting)."""
    rows = session.execute(text("""
        SELECT o.id FROM orders o JOIN pass_holdings h ON h.order_id = o.id
         WHERE o.pass_id IS NOT NULL AND o.paid_amount > 0 AND o.payment_intent_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM ledger_transactions t
                            WHERE t.reference = 'pass:' || h.id || '\\:paid')
         ORDER BY o.paid_at LIMIT :limit
    """), {"limit": limit})  # fmt: skip
    return [str(order_id) for (order_id,) in rows]


def collect_payment(
    database: Database, gateway: BalanceReader, order_id: str, now: datetime
) -> bool:
    """Ask Stripe for a paid pass's charge (its real fee) and post the payment with its
    shares; False while Stripe has nothing yet or it was posted before. Idempotent."""
    with database.unit_of_work() as uow:
        order = uow.session.get(Order, order_id)
        if order is None or order.pass_id is None or order.paid_amount <= 0:
            return False
        intent_id = order.payment_intent_id
    if intent_id is None:
        return False
    txn = gateway.payment_balance_transaction(intent_id)  # no lock held while Stripe answers
    if txn is None:
        return False
    with database.unit_of_work() as uow:
        order = lock_order(uow.session, order_id)
        assert order is not None
        return post_payment(uow.session, order, txn.id, txn.fee, now)


def post_payment(session: Session, order: Order, txn_id: str, fee: int, now: datetime) -> bool:
    """Post the (locked) pass order's payment and divide it into shares, once."""
    holding = session.exec(select(PassHolding).where(PassHolding.order_id == order.id)).one()
    product = session.get(PassProduct, holding.pass_id)
    assert product is not None and order.paid_at is not None
    paid, currency = order.paid_amount, order.currency
    vat = allocate(paid, [10_000, product.vat_rate_bps])[1] if product.vat_rate_bps else 0
    net = paid - vat
    posted = post(
        session, venue_id=holding.venue_id, reference=f"pass:{holding.id}:paid", currency=currency,
        lines=[Line(accounts.STRIPE_BALANCE, paid - fee),
               Line(accounts.deferred_pass_fees(product.id), fee),
               Line(accounts.VAT_PAYABLE, -vat), Line(accounts.deferred_pass(product.id), -net)],
        now=now, description=f"season pass paid (Stripe {txn_id}); VAT due, net deferred",
    )  # fmt: skip
    if posted is None:
        return False
    sync_date_range(session, product, now)  # a date-range pass: its events of this moment
    covered = covered_at(session, product, order.paid_at)
    weights = weights_of(product, [tier for _, tier in covered])
    shares = [
        PassShare(holding_id=holding.id, event_id=event.id, pass_id=product.id,
                  venue_id=holding.venue_id, net=n, vat=v, fee=f, state=ShareState.deferred,
                  created_at=now)
        for (event, _), n, v, f in zip(covered, divide(net, weights), divide(vat, weights),
                                       divide(fee, weights), strict=True)
    ]  # fmt: skip
    session.add_all(shares)
    session.flush()
    earlier = session.exec(select(Refund).where(Refund.order_id == order.id)).first()
    if not shares or order.refunded_amount >= paid:
        # Nothing left to cover (paid after its events), or refunded in full before
        # Stripe's report came (paid after its reservation lapsed and the passes sold
        # out): everything goes, or went, back.
        if earlier is None:
            earlier = request_refund(session, order.venue_id, order.id, amount=None,
                                     reason="the pass covers no event any more",
                                     origin=PASS_ORIGIN, now=now)  # fmt: skip
        _post_refund(session, holding, product, earlier.id, shares=shares, now=now,
                     whole=(net, vat, fee))  # fmt: skip
    return True


# -- recognition when an event ends --------------------------------------------------------


def events_to_settle(session: Session, now: datetime, limit: int = 100) -> list[str]:
    """Events with deferred pass shares that have ended or were cancelled."""
    deferred = select(PassShare.event_id).where(PassShare.state == ShareState.deferred)
    # A cancelled event's share whose refund Stripe failed waits for staff: not every beat.
    retried = deferred.where(col(PassShare.failed_refund_id).is_(None))
    cancelled = col(Event.status) == EventStatus.cancelled.value
    rows = session.exec(
        select(Event).where((cancelled & col(Event.id).in_(retried.distinct()))
                            | (~cancelled & (col(Event.ends_at) <= now)
                               & col(Event.id).in_(deferred.distinct())))
        .order_by(col(Event.ends_at)).limit(limit)
    ).all()  # fmt: skip
    return [event.id for event in rows]


def settle_event(database: Database, event_id: str, now: datetime) -> int:
    """Recognise an ended event's deferred shares and split it, or refund a cancelled
    event's shares to their holders; shares settled. Idempotent, run by beat."""
    with database.unit_of_work() as uow:
        session = uow.session
        event = session.get(Event, event_id)
        if event is None:
            return 0
        status = status_of(event, now)
        if status is EventStatus.cancelled:
            return _refund_cancelled(session, event, now)
        if status is not EventStatus.ended:
            return 0
        lock_event_ledger(session, event.id)
        shares = _deferred_shares(session, event.id)
        left = left_of(session, [share for share, _, _ in shares])
        done = 0
        for share, holding, order in shares:
            if order.status not in IN_FORCE and not _dispute_taken(session, holding.id, order):
                continue  # the money is held by a dispute: settled when that is
            net = left[share.holding_id, share.event_id][0]  # less what left outside
            lines = [Line(accounts.deferred_pass(share.pass_id), net),
                     Line(accounts.pass_revenue(event.id), -net),
                     Line(accounts.pass_fees(event.id), share.fee),
                     Line(accounts.deferred_pass_fees(share.pass_id), -share.fee)]  # fmt: skip
            if net or share.fee:
                post(session, venue_id=holding.venue_id, currency=order.currency,
                     reference=f"pass:{holding.id}:recognise:{event.id}", lines=lines, now=now,
                     event_id=event.id,
                     description="season pass share of an ended event")  # fmt: skip
            share.state, share.settled_at = ShareState.recognised, now
            session.add(share)
            done += 1
        session.flush()
        if done:
            split_event(session, event, f"passes:{now:%Y-%m-%dT%H:%M:%SZ}", now)
        return done


def left_of(
    session: Session, shares: Sequence[PassShare]
) -> dict[tuple[str, str], tuple[int, int]]:
    """What is left of each share, (net, VAT) by (holding, event): less its parts that
    left outside our refund path and did not come back (passes/outside.py)."""
    left = {(share.holding_id, share.event_id): (share.net, share.vat) for share in shares}
    if not left:
        return left
    parts = session.exec(select(PassShareReturn).where(
        col(PassShareReturn.holding_id).in_({holding for holding, _ in left}),
        col(PassShareReturn.reversed_at).is_(None),
    ))  # fmt: skip
    for part in parts:
        key = (part.holding_id, part.event_id)
        if key in left:
            left[key] = (left[key][0] - part.net, left[key][1] - part.vat)
    return left


def _dispute_taken(session: Session, holding_id: str, order: Order) -> bool:
    """The order's lost disputes are all taken out of its shares (passes/outside.py):
    what is left of them is its events' again."""
    if order.dispute_status != OrderDisputeStatus.lost:
        return False
    untaken = session.execute(text("""
        SELECT 1 FROM disputes d WHERE d.order_id = :o AND d.status = 'lost'
           AND NOT EXISTS (SELECT 1 FROM ledger_transactions t
                            WHERE t.reference = 'pass:' || :h || ':dispute:' || d.id)
    """), {"o": order.id, "h": holding_id}).first()  # fmt: skip
    return untaken is None


def _deferred_shares(session: Session, event_id: str) -> list[tuple[PassShare, PassHolding, Order]]:
    rows = session.exec(
        select(PassShare, PassHolding, Order)
        .join(PassHolding, col(PassHolding.id) == col(PassShare.holding_id))
        .join(Order, col(Order.id) == col(PassHolding.order_id))
        .where(PassShare.event_id == event_id, PassShare.state == ShareState.deferred)
        .order_by(col(PassShare.holding_id)).with_for_update(of=PassShare)
    ).all()  # fmt: skip
    return [(share, holding, order) for share, holding, order in rows]


# -- refunds -------------------------------------------------------------------------------


def _refund_cancelled(session: Session, event: Event, now: datetime) -> int:
    """Every holder gets the cancelled event's share back (n + v), once."""
    done = 0
    for share, holding, _ in _deferred_shares(session, event.id):
        if share.failed_refund_id is not None:
            continue  # Stripe failed its refund: staff refund it (refund_holding), no loop
        product = session.get(PassProduct, share.pass_id)
        assert product is not None
        try:
            returned = refund_shares(session, holding, product, [share], now=now,
                                     reason=f"{event.title} was cancelled")  # fmt: skip
        except ServiceError as exc:  # disputed, or otherwise not refundable: stays deferred
            log.warning("pass %s: share of %s not refunded: %s", holding.id, event.id, exc)
            continue
        done += returned
    return done


def refund_holding(
    session: Session, venue_id: str, holding_id: str, now: datetime, *, reason: str
) -> Refund:
    """Refund a pass (staff): before any of its events ended, everything; after, by
    the pass's setting, the share of the events still to come, or nothing (409).
    Its claimed tickets of events not yet over are revoked."""
    holding = session.exec(select(PassHolding).where(
        PassHolding.id == holding_id, PassHolding.venue_id == venue_id
    )).first()  # fmt: skip
    if holding is None:
        raise Conflict("No such pass.", code="not_found")
    order = lock_order(session, holding.order_id)
    product = session.get(PassProduct, holding.pass_id)
    assert order is not None and product is not None
    shares = list(session.exec(
        select(PassShare).where(PassShare.holding_id == holding.id).with_for_update()
    ))  # fmt: skip
    if order.paid_amount > 0 and not shares and not _payment_posted(session, holding.id):
        raise Conflict("Stripe has not reported this payment yet; try again in a minute.",
                       code="pass_not_settled")  # fmt: skip
    open_shares = [share for share in shares if share.state == ShareState.deferred]
    used = any(share.state == ShareState.recognised for share in shares)
    if used and product.late_refund == "none":
        raise Conflict("This pass has been used and its settings allow no refund.",
                       code="not_refundable")  # fmt: skip
    # Shares of nothing (a pass of events weighted 0) have no money to return either.
    if sum(n + v for n, v in left_of(session, open_shares).values()) <= 0:
        raise Conflict("Nothing of this pass is left to refund.", code="not_refundable")
    refund_shares(session, holding, product, open_shares, now=now, reason=reason)
    refund = session.exec(select(Refund).where(Refund.order_id == order.id)
                          .order_by(col(Refund.created_at).desc(),
                                    col(Refund.id).desc())).first()  # fmt: skip
    assert refund is not None
    return refund


def _payment_posted(session: Session, holding_id: str) -> bool:
    query = text("SELECT 1 FROM ledger_transactions WHERE reference = :r")
    return session.execute(query, {"r": f"pass:{holding_id}:paid"}).first() is not None


def refund_shares(
    session: Session, holding: PassHolding, product: PassProduct, shares: Sequence[PassShare], *,
    now: datetime, reason: str,
) -> int:  # fmt: skip
    """Return these deferred shares (what is left of n + v each) to the holder in one
    refund, post it, and revoke the holder's tickets of those events; shares refunded."""
    amount = sum(n + v for n, v in left_of(session, shares).values())
    if amount <= 0:
        for share in shares:  # a share of 0 has nothing to return
            share.state, share.settled_at = ShareState.refunded, now
            session.add(share)
        return len(shares)
    refund = request_refund(session, holding.venue_id, holding.order_id, amount=amount,
                            reason=reason[:500], origin=PASS_ORIGIN, now=now)  # fmt: skip
    for share in shares:
        share.state, share.settled_at, share.refund_id = ShareState.refunded, now, refund.id
        share.failed_refund_id = None  # a share whose refund failed is refunded now
        session.add(share)
    _post_refund(session, holding, product, refund.id, shares=shares, now=now)
    _revoke_claims(session, holding.id, [share.event_id for share in shares], now)
    return len(shares)


def _post_refund(
    session: Session, holding: PassHolding, product: PassProduct, refund_id: str, *,
    shares: Sequence[PassShare], now: datetime, whole: tuple[int, int, int] | None = None,
) -> None:  # fmt: skip
    left = left_of(session, shares).values() if whole is None else ()
    net, vat, fee = whole or (sum(n for n, _ in left), sum(v for _, v in left),
                              sum(s.fee for s in shares))  # fmt: skip
    if whole is not None:
        for share in shares:
            share.state, share.settled_at, share.refund_id = ShareState.refunded, now, refund_id
            session.add(share)
    if net + vat == 0 and fee == 0:
        return
    post(
        session, venue_id=holding.venue_id, reference=f"pass:{holding.id}:refund:{refund_id}",
        currency=product.currency,
        lines=[Line(accounts.deferred_pass(product.id), net), Line(accounts.VAT_PAYABLE, vat),
               Line(accounts.STRIPE_BALANCE, -(net + vat)),
               Line(accounts.pass_fees_kept(product.id), fee),
               Line(accounts.deferred_pass_fees(product.id), -fee)],
        now=now, description="season pass shares refunded",
    )  # fmt: skip


def _revoke_claims(
    session: Session, holding_id: str, event_ids: Sequence[str], now: datetime
) -> None:
    """The holder's tickets of these events go (their money went back): final."""
    tickets = list(session.exec(
        select(Ticket).join(PassClaim, col(PassClaim.ticket_id) == col(Ticket.id))
        .where(PassClaim.holding_id == holding_id, col(PassClaim.event_id).in_(list(event_ids)),
               Ticket.status != TicketStatus.revoked)
        .with_for_update(of=Ticket)
    ))  # fmt: skip
    for ticket in tickets:
        ticket.status, ticket.revoked_by_staff, ticket.updated_at = TicketStatus.revoked, True, now
        session.add(ticket)
    if tickets:
        emit(session, TicketStatusChanged({t.id: TicketStatus.revoked.value for t in tickets}))


# -- the identity ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PassMoney:
    """A pass product's money as the ledger holds it (minor units)."""

    payments: int
    recognised: int
    deferred: int
    vat: int
    refunds: int  # what went back out of the pass: refunds, lost disputes, net of failures
    fees: int
    # Beyond what the pass's unplayed events held (passes/outside.py): left Stripe, and
    # borne by the venue, not by the pass; not part of `refunds`.
    unallocated: int = 0

    @property
    def balanced(self) -> bool:
        return self.recognised + self.deferred + self.vat + self.refunds == self.payments


def pass_money(session: Session, pass_id: str) -> PassMoney:
    """recognised + deferred + VAT + refunds = payments, read from the pass's postings."""
    rows = session.execute(text("""
        SELECT split_part(t.reference, ':', 3) AS kind, a.code, sum(e.amount)
          FROM pass_holdings h
          JOIN ledger_transactions t ON t.reference LIKE 'pass:' || h.id || ':%'
          JOIN ledger_entries e ON e.transaction_id = t.id
          JOIN ledger_accounts a ON a.id = e.account_id
         WHERE h.pass_id = :p
         GROUP BY 1, 2
    """), {"p": pass_id})  # fmt: skip
    sums: dict[tuple[str, str], int] = defaultdict(int)
    for kind, code, amount in rows:
        sums[(str(kind), str(code))] += int(amount)
    deferred = accounts.deferred_pass(pass_id)
    by_code: dict[str, int] = defaultdict(int)
    for (_, code), amount in sums.items():
        by_code[code] += amount
    unallocated = by_code[accounts.pass_refunds_unallocated(pass_id)]
    # Money that left Stripe for a holder, a dispute, or came back when a refund failed.
    left_stripe = -sum(sums[(kind, accounts.STRIPE_BALANCE)] for kind in RETURN_KINDS)
    return PassMoney(
        payments=-(sums[("paid", deferred)] + sums[("paid", accounts.VAT_PAYABLE)]),
        recognised=-sum(amount for (kind, code), amount in sums.items()
                        if kind == "recognise" and code.startswith("pass_revenue:")),
        deferred=-by_code[deferred],
        vat=-by_code[accounts.VAT_PAYABLE],
        refunds=left_stripe - unallocated,
        fees=sums[("paid", accounts.deferred_pass_fees(pass_id))],
        unallocated=unallocated,
    )  # fmt: skip
