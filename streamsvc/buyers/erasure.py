"""Erasing a buyer (GDPR art. 17): one e-mail address, in one venue's orders.

The orders stay (amounts, tickets and their statuses, refunds: the venue must keep
its books), but nothing in them names the buyer any more: the e-mail address becomes
`erased-<hash prefix>@invalid`. Whatever else holds the address for these orders is
cleared too: the idempotency records of the buyer's purchases (their scope is a hash
of the address and their answers are the buyer's), Stripe webhook payloads and outbox
messages that mention it (the address, and the name and phone beside it), and ticket
mails written to the development mail outbox. A season pass the buyer holds names
them too (`pass_holdings.email`, the address its link was mailed to): it takes the
same stand-in, and the pass purchases' idempotency records go with the ticket
purchases'. The pass stays usable: its code, not the address, is what opens it. A pass
they transferred to someone else keeps their address only until its notice is mailed
(`pass_transfers.previous_email`): erasure empties it sooner. The ledger and the audit
log refer to orders by id and never held the address; they are not touched.

Viewing sessions live in Redis only, keyed by ticket and device, with no address;
the per-address rate-limit counters in Redis expire within the hour.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.utils import getaddresses
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Text, cast, delete, func
from sqlmodel import Session, col, select

from streamsvc import audit
from streamsvc.buyers.scrub import scrub
from streamsvc.idempotency import IdempotencyRecord
from streamsvc.orders.models import Order
from streamsvc.outbox.models import OutboxMessage
from streamsvc.passes.buying import idempotency_scope as pass_purchase_scope
from streamsvc.passes.models import PassHolding
from streamsvc.passes.transfer import forget_previous_addresses
from streamsvc.payments.models import StripeEvent

# The tables whose JSON payloads may hold a buyer's address.
Payloaded = TypeVar("Payloaded", StripeEvent, OutboxMessage)
ERASED_DOMAIN = "invalid"  # RFC 2606: never delivers


@dataclass(frozen=True)
class Erasure:
    """What was erased: counts only, never the address."""

    pseudonym: str
    orders: int
    idempotency_records: int
    webhook_payloads: int
    outbox_messages: int
    mails: int
    pass_holdings: int = 0


def pseudonym(address: str) -> str:
    """The stand-in of an address: the same for every order of the buyer, so a venue
    still sees which orders belonged together, and undeliverable."""
    digest = hashlib.sha256(address.encode()).hexdigest()
    return f"erased-{digest[:16]}@{ERASED_DOMAIN}"


def erase_buyer(
    session: Session, venue_id: str, email: str, now: datetime, mail_dir: Path | None = None
) -> Erasure:
    """Erase `email` from the venue's orders and what refers to them; records
    `buyer.erased` with the counts. Erasing again finds nothing and erases nothing."""
    address = email.strip().lower()
    stand_in = pseudonym(address)
    orders = list(session.exec(
        select(Order)
        .where(Order.venue_id == venue_id, func.lower(Order.email) == address)
        .order_by(col(Order.id))
        .with_for_update()
    ))  # fmt: skip
    for order in orders:
        order.email, order.updated_at = stand_in, now
        session.add(order)
    order_ids = {order.id for order in orders}
    refs = order_ids | {o.payment_intent_id for o in orders if o.payment_intent_id}
    erasure = Erasure(
        pseudonym=stand_in,
        orders=len(orders),
        idempotency_records=_forget_purchases(
            session,
            address,
            {o.event_id for o in orders if o.event_id},
            {o.pass_id for o in orders if o.pass_id},
        ),
        webhook_payloads=_scrub_rows(session, StripeEvent, address, stand_in, refs),
        outbox_messages=_scrub_rows(session, OutboxMessage, address, stand_in, refs),
        mails=_remove_mails(mail_dir, address, order_ids) if mail_dir else 0,
        pass_holdings=_erase_holdings(session, venue_id, address, stand_in),
    )
    audit.record(
        session, venue_id=venue_id, action="buyer.erased", object_type="buyer",
        object_id=stand_in.partition("@")[0],
        changes={"orders": erasure.orders, "idempotency_records": erasure.idempotency_records,
                 "webhook_payloads": erasure.webhook_payloads,
                 "outbox_messages": erasure.outbox_messages, "mails": erasure.mails,
                 "pass_holdings": erasure.pass_holdings},
    )  # fmt: skip
    return erasure


def _forget_purchases(
    session: Session, address: str, event_ids: Iterable[str], pass_ids: Iterable[str] = ()
) -> int:
    """Delete the idempotency records of the buyer's purchases (orders/placing.py scopes
    them by event and a hash of the address, passes/buying.py by pass; their answers
    hold the order token)."""
    buyer = hashlib.sha256(address.encode()).hexdigest()[:32]
    scopes = [f"orders:{event_id}:{buyer}" for event_id in event_ids]
    scopes += [pass_purchase_scope(pass_id, address) for pass_id in pass_ids]
    if not scopes:
        return 0
    result = session.execute(
        delete(IdempotencyRecord).where(col(IdempotencyRecord.scope).in_(scopes))
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _erase_holdings(session: Session, venue_id: str, address: str, stand_in: str) -> int:
    """The buyer's season passes at this venue (whatever became of their orders) take
    the stand-in address."""
    holdings = session.exec(
        select(PassHolding)
        .where(PassHolding.venue_id == venue_id, func.lower(PassHolding.email) == address)
        .with_for_update()
    ).all()
    for holding in holdings:
        holding.email = stand_in
        session.add(holding)
    # A pass they passed on keeps their address only until its notice is mailed.
    forget_previous_addresses(session, venue_id, address)
    return len(holdings)


def _scrub_rows(
    session: Session,
    model: type[Payloaded],
    address: str,
    stand_in: str,
    refs: set[str],
) -> int:
    """Scrub the address from the JSON payloads of `model` that mention it and one of
    the erased orders (or their payments): another venue's rows are not this erasure's."""
    if not refs:
        return 0
    mentions = func.strpos(func.lower(cast(col(model.payload), Text)), address)
    rows = session.exec(select(model).where(mentions > 0).with_for_update())
    changed = 0
    for row in rows:
        raw = str(row.payload)
        if not any(ref in raw for ref in refs):
            continue
        row.payload = scrub(row.payload, address, stand_in)
        session.add(row)
        changed += 1
    return changed


def _remove_mails(directory: Path, address: str, order_ids: set[str]) -> int:
    """Delete the mails to `address` about these orders from the development mail
    outbox (notifications.mail.OutboxSender); SMTP keeps no copy here."""
    if not order_ids or not directory.is_dir():
        return 0
    removed = 0
    for path in directory.glob("*.eml"):
        with contextlib.suppress(OSError):
            raw = path.read_bytes()
            message: Any = message_from_bytes(raw)
            to = {addr.lower() for _, addr in getaddresses(message.get_all("To", []))}
            if address in to and any(order_id.encode() in raw for order_id in order_ids):
                path.unlink()
                removed += 1
    return removed
