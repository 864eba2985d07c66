"""Season pass money moved outside our own refund path, taken into the pass's shares.

recognition.py posts the money a pass returns through our refunds, when they are
requested. Three things move a pass's money without it:

* a refund made in Stripe's dashboard, recorded from its webhook as a `refunds` row
  of origin "stripe" (orders/settlement.py);
* a dispute the venue lost: Stripe withdrew the disputed amount;
* a refund of ours that Stripe reports failed or canceled: it was posted as returned
  when requested, and the money never left.

`absorb_outside_changes` (beat, every minute) finds each such fact of a paid and
posted pass not yet posted, and posts it as one ledger transaction under a reference
of its own, so that it happens once however often it runs. Each order is worked in
its own transaction under its order lock (orders.buying.lock_order), then its
shares FOR UPDATE, in the order refund_holding takes them.

`pass:{holding}:outside:{refund}` and `pass:{holding}:dispute:{dispute}`: an amount X
left Stripe. It comes out of the pass's deferred shares: X over the shares not yet
settled by what is left of each (net + VAT), and each share's part into net and VAT
by what is left of its own net and VAT, both through `allocate` (what is left rather
than the share's first proportion: a second take then never takes more VAT or net
than the share still holds). Every part is a
`pass_share_returns` row, so that recognition recognises only what is left of a share
and a failure later puts back exactly those parts. A share with nothing left is
refunded: Stripe keeps its fee share, as with any refund, and the holder's claimed
ticket of its event, when that is not over, is revoked. What X has beyond the
deferred money (refunded in the dashboard after some events were recognised) is never
taken back from revenue an event recognised: it goes to the pass's unallocated
refunds account, borne by the venue, and a reconciliation finding tells finance.

    deferred:pass:{pass}         + Σn    vat_payable                 + Σv
    stripe_balance               - X     pass_refunds_unallocated    + (X - Σ(n + v))
    pass_fees_kept:pass:{pass}   + Σf    deferred_fees:pass:{pass}   - Σf   (f: emptied shares)

`pass:{holding}:outside_failed:{refund}`: the dashboard refund failed, the money is
back. Its parts go back to their shares (an emptied share is deferred again). A part
whose share was settled since (recognised, or refunded by us) can go back to no share:
it goes to the unallocated account like an excess, with a finding. Otherwise the
exact reverse of the posting above.

`pass:{holding}:refund_failed:{refund}`: our refund (recognition.refund_shares) failed:
the exact reverse of `pass:{holding}:refund:{refund}`; its shares are deferred again,
marked with `failed_refund_id`. A cancelled event's refund leaves a marked share alone
(no refund loop every beat); staff refunding the pass (refund_holding) include it.

Failures are applied before new outflows, so that money put back into a share is
there for the next refund to take; within each, oldest first. A lost dispute is
final at Stripe: it is never reversed. A won one moved no money: recognition goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session, col, select

from streamsvc.catalog.events import status_of
from streamsvc.catalog.models import Event
from streamsvc.db import Database
from streamsvc.finance import accounts
from streamsvc.finance.findings import record_finding
from streamsvc.kit.money import allocate
from streamsvc.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from streamsvc.ledger.service import Line, post
from streamsvc.orders.buying import lock_order
from streamsvc.orders.models import Order
from streamsvc.orders.refunds import PASS_ORIGIN
from streamsvc.passes.models import (
    PassHolding,
    PassProduct,
    PassShare,
    PassShareReturn,
    ReturnSource,
    ShareState,
)
from streamsvc.passes.recognition import OVER, _payment_posted, _revoke_claims, left_of
from streamsvc.payments.models import Dispute, DisputeStatus, Refund, RefundStatus

log = logging.getLogger(__name__)
MOVED = (RefundStatus.pending.value, RefundStatus.succeeded.value)  # the money left Stripe
FAILED = (RefundStatus.failed.value, RefundStatus.canceled.value)  # it did not, or came back
FINDING = "pass_refund_unallocated"

_DUE = text("""
    SELECT r.order_id FROM refunds r JOIN pass_holdings h ON h.order_id = r.order_id
     WHERE EXISTS (SELECT 1 FROM ledger_transactions p
                    WHERE p.reference = 'pass:' || h.id || '\\:paid')
       AND ((r.status = ANY(:moved) AND r.origin <> :ours
            AND NOT EXISTS (SELECT 1 FROM ledger_transactions t WHERE t.reference IN
                            ('pass:' || h.id || ':refund:' || r.id,
                             'pass:' || h.id || ':outside:' || r.id)))
        OR (r.status = ANY(:failed) AND (
            (EXISTS (SELECT 1 FROM ledger_transactions t
                      WHERE t.reference = 'pass:' || h.id || ':refund:' || r.id)
             AND NOT EXISTS (SELECT 1 FROM ledger_transactions t
                              WHERE t.reference = 'pass:' || h.id || ':refund_failed:' || r.id))
         OR (EXISTS (SELECT 1 FROM ledger_transactions t
                      WHERE t.reference = 'pass:' || h.id || ':outside:' || r.id)
             AND NOT EXISTS (SELECT 1 FROM ledger_transactions t
                              WHERE t.reference = 'pass:' || h.id || ':outside_failed:' || r.id)))))
    UNION
    SELECT d.order_id FROM disputes d JOIN pass_holdings h ON h.order_id = d.order_id
     WHERE d.status = :lost
       AND EXISTS (SELECT 1 FROM ledger_transactions p
                    WHERE p.reference = 'pass:' || h.id || '\\:paid')
       AND NOT EXISTS (SELECT 1 FROM ledger_transactions t
                        WHERE t.reference = 'pass:' || h.id || ':dispute:' || d.id)
    ORDER BY 1 LIMIT :limit
""")


def outside_changes_due(session: Session, limit: int = 200) -> list[str]:
    """Pass orders with money moved outside our refund path that is not posted yet."""
    rows = session.execute(_DUE, {"moved": list(MOVED), "failed": list(FAILED),
                                  "ours": PASS_ORIGIN, "lost": DisputeStatus.lost.value,
                                  "limit": limit})  # fmt: skip
    return [str(order_id) for (order_id,) in rows]


def absorb_outside_changes(database: Database, now: datetime, limit: int = 200) -> int:
    """Post what moved outside our refund path for every pass order concerned, each
    order in its own transaction; the postings made. Idempotent, run by beat."""
    with database.unit_of_work() as uow:
        due = outside_changes_due(uow.session, limit)
    return sum(absorb_order(database, order_id, now) for order_id in due)


@dataclass
class _Pass:
    """One locked pass order, its holding, product and shares (in their events' order)."""

    session: Session
    order: Order
    holding: PassHolding
    product: PassProduct
    shares: list[PassShare]
    now: datetime

    def ref(self, kind: str, source_id: str) -> str:
        return f"pass:{self.holding.id}:{kind}:{source_id}"

    def posted(self, kind: str, source_id: str) -> bool:
        query = select(LedgerTransaction.id).where(
            LedgerTransaction.reference == self.ref(kind, source_id)
        )
        return self.session.exec(query).first() is not None


def absorb_order(database: Database, order_id: str, now: datetime) -> int:
    """Post, once each, a pass order's failed refunds, then its dashboard refunds and
    lost disputes not posted yet; the postings made."""
    with database.unit_of_work() as uow:
        session = uow.session
        order = lock_order(session, order_id)
        holding = session.exec(select(PassHolding).where(PassHolding.order_id == order_id)).first()
        if order is None or holding is None:
            return 0
        if not _payment_posted(session, holding.id):
            return 0  # recognition posts the payment (and makes its shares) first
        product = session.get(PassProduct, holding.pass_id)
        assert product is not None
        money = _Pass(session, order, holding, product, _locked_shares(session, holding.id), now)
        refunds = list(session.exec(
            select(Refund).where(Refund.order_id == order_id)
            .order_by(col(Refund.created_at), col(Refund.id))
        ))  # fmt: skip
        done = 0
        for refund in refunds:
            if refund.status in FAILED:
                done += _restore(money, refund)
        for refund in refunds:
            if (refund.status in MOVED and refund.origin != PASS_ORIGIN
                    and not money.posted("refund", refund.id)
                    and not money.posted("outside", refund.id)):  # fmt: skip
                done += _take(money, ReturnSource.refund, refund.id, refund.amount)
        lost = session.exec(
            select(Dispute)
            .where(Dispute.order_id == order_id, Dispute.status == DisputeStatus.lost)
            .order_by(col(Dispute.created_at), col(Dispute.id))
        )  # fmt: skip
        for dispute in lost:
            if not money.posted("dispute", dispute.id):
                done += _take(money, ReturnSource.dispute, dispute.id, dispute.amount)
        return done


def _locked_shares(session: Session, holding_id: str) -> list[PassShare]:
    """The holding's shares, locked, in their events' order (ties of `allocate` go to
    the earlier event)."""
    rows = session.exec(
        select(PassShare).join(Event, col(Event.id) == col(PassShare.event_id))
        .where(PassShare.holding_id == holding_id)
        .order_by(col(Event.starts_at), col(Event.id)).with_for_update(of=PassShare)
    )  # fmt: skip
    return list(rows)


# -- money out: a dashboard refund, a lost dispute -------------------------------------------


def _take(money: _Pass, source: ReturnSource, source_id: str, amount: int) -> int:
    """Take `amount` out of the pass's deferred shares (the rest to unallocated), once."""
    if amount <= 0:
        return 0
    session, now = money.session, money.now
    open_shares = [share for share in money.shares if share.state == ShareState.deferred]
    left = left_of(session, open_shares)
    weights = [sum(left[share.holding_id, share.event_id]) for share in open_shares]
    held = sum(weights)
    taken = min(amount, held)
    parts = allocate(taken, weights) if taken else [0] * len(open_shares)
    net = vat = fee = 0
    emptied_events: list[str] = []
    for share, part, weight in zip(open_shares, parts, weights, strict=True):
        # A share of nothing goes only when everything deferred does.
        emptied = part == weight and (weight > 0 or taken == held)
        if not part and not emptied:
            continue
        n, v = allocate(part, list(left[share.holding_id, share.event_id])) if part else [0, 0]
        f = share.fee if emptied else 0
        net, vat, fee = net + n, vat + v, fee + f
        session.add(PassShareReturn(
            holding_id=share.holding_id, event_id=share.event_id, source_id=source_id,
            source=source, net=n, vat=v, fee=f, emptied=emptied, created_at=now,
        ))  # fmt: skip
        if emptied:
            share.state, share.settled_at = ShareState.refunded, now
            share.refund_id = source_id if source == ReturnSource.refund else None
            session.add(share)
            emptied_events.append(share.event_id)
    beyond = amount - taken
    kind = "outside" if source == ReturnSource.refund else "dispute"
    post(
        session, venue_id=money.holding.venue_id, reference=money.ref(kind, source_id),
        currency=money.product.currency, now=now,
        lines=[Line(accounts.deferred_pass(money.product.id), net),
               Line(accounts.VAT_PAYABLE, vat), Line(accounts.STRIPE_BALANCE, -amount),
               Line(accounts.pass_refunds_unallocated(money.product.id), beyond),
               Line(accounts.pass_fees_kept(money.product.id), fee),
               Line(accounts.deferred_pass_fees(money.product.id), -fee)],
        description=("season pass refunded in Stripe's dashboard" if kind == "outside"
                     else "season pass money lost in a dispute"),
    )  # fmt: skip
    session.flush()
    if beyond:
        what = "refund" if kind == "outside" else "dispute"
        _finding(money, f"{what}:{source_id}", beyond,
                 f"Stripe {'refunded' if kind == 'outside' else 'withdrew for a lost dispute'} "
                 f"{amount} of season pass {money.holding.id}, {beyond} more than its unplayed "
                 f"events held (already recognised); posted to the pass's unallocated "
                 f"refunds, borne by the venue.")  # fmt: skip
    # Revocation is final: a claimed ticket whose money went does not come back.
    _revoke_claims(session, money.holding.id, _not_over(session, emptied_events, now), now)
    return 1


def _not_over(session: Session, event_ids: Sequence[str], now: datetime) -> list[str]:
    events = [session.get(Event, event_id) for event_id in event_ids]
    return [e.id for e in events if e is not None and status_of(e, now) not in OVER]


# -- money back: a refund that failed ------------------------------------------------------


def _restore(money: _Pass, refund: Refund) -> int:
    """A failed refund's posting reversed and its shares' parts put back, once."""
    if money.posted("refund", refund.id) and not money.posted("refund_failed", refund.id):
        return _restore_ours(money, refund)
    if money.posted("outside", refund.id) and not money.posted("outside_failed", refund.id):
        return _restore_outside(money, refund)
    return 0


def _restore_ours(money: _Pass, refund: Refund) -> int:
    """Our refund failed: its shares are deferred again, marked so that a cancelled
    event's refund does not retry them by itself. The tickets it revoked stay revoked:
    revocation is final (the holder may have been told, a seat given away)."""
    shares = [share for share in money.shares
              if share.refund_id == refund.id and share.state == ShareState.refunded]  # fmt: skip
    left = left_of(money.session, shares).values()
    net, vat = sum(n for n, _ in left), sum(v for _, v in left)
    fee = sum(share.fee for share in shares)
    for share in shares:
        share.state, share.settled_at, share.refund_id = ShareState.deferred, None, None
        share.failed_refund_id = refund.id
        money.session.add(share)
    _post_back(money, "refund", refund.id, net=net, vat=vat, fee=fee,
               why="season pass refund failed")  # fmt: skip
    return 1


def _restore_outside(money: _Pass, refund: Refund) -> int:
    """A dashboard refund failed: each part goes back to its share, where it still can."""
    session = money.session
    parts = list(session.exec(select(PassShareReturn).where(
        PassShareReturn.holding_id == money.holding.id, PassShareReturn.source_id == refund.id,
        col(PassShareReturn.reversed_at).is_(None),
    )))  # fmt: skip
    by_event = {share.event_id: share for share in money.shares}
    net = vat = fee = 0
    for part in parts:
        share = by_event[part.event_id]
        emptied_here = part.emptied and share.refund_id == refund.id
        if share.state != ShareState.deferred and not emptied_here:
            continue  # settled since: no share to go back to (unallocated, below)
        part.reversed_at = money.now
        session.add(part)
        net, vat, fee = net + part.net, vat + part.vat, fee + part.fee
        if emptied_here:
            share.state, share.settled_at, share.refund_id = ShareState.deferred, None, None
            session.add(share)
    _post_back(money, "outside", refund.id, net=net, vat=vat, fee=fee,
               why="season pass refund made in Stripe's dashboard failed")  # fmt: skip
    return 1


def _post_back(
    money: _Pass, kind: str, refund_id: str, *, net: int, vat: int, fee: int, why: str
) -> None:
    """The money of the posting `kind` is back at Stripe: net and VAT to the shares'
    accounts, their fees to deferred again; what no share takes, to unallocated."""
    came_back = -_amount(money.session, money.ref(kind, refund_id), accounts.STRIPE_BALANCE)
    unowned = came_back - net - vat
    product = money.product.id
    post(
        money.session, venue_id=money.holding.venue_id, currency=money.product.currency,
        reference=money.ref(f"{kind}_failed", refund_id), now=money.now, description=why,
        lines=[Line(accounts.STRIPE_BALANCE, came_back),
               Line(accounts.deferred_pass(product), -net), Line(accounts.VAT_PAYABLE, -vat),
               Line(accounts.pass_refunds_unallocated(product), -unowned),
               Line(accounts.pass_fees_kept(product), -fee),
               Line(accounts.deferred_pass_fees(product), fee)],
    )  # fmt: skip
    if unowned:
        _finding(money, f"refund:{refund_id}:failed", unowned,
                 f"A refund of {came_back} of season pass {money.holding.id} failed; "
                 f"{unowned} of it belongs to no unplayed event of the pass any more and is "
                 f"back in the pass's unallocated refunds.")  # fmt: skip


def _amount(session: Session, reference: str, code: str) -> int:
    """The amount the transaction `reference` posted to the account `code`."""
    query = (
        select(LedgerEntry.amount)
        .join(LedgerTransaction, col(LedgerTransaction.id) == col(LedgerEntry.transaction_id))
        .join(LedgerAccount, col(LedgerAccount.id) == col(LedgerEntry.account_id))
        .where(LedgerTransaction.reference == reference, LedgerAccount.code == code)
    )
    return sum(session.exec(query))


def _finding(money: _Pass, reference: str, amount: int, detail: str) -> None:
    record_finding(money.session, money.holding.venue_id, None, kind=FINDING, reference=reference,
                   detail=detail, now=money.now, amount=amount,
                   currency=money.product.currency)  # fmt: skip
    log.warning("pass %s: %s", money.holding.id, detail)
