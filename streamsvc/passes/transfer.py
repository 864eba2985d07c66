"""Transferring a season pass to another person, when the venue made it transferable.

The holder, authorised by the pass's current code, names the new holder's e-mail
address. In one transaction, under the holding's row lock (which claims take too):

- the holding takes the new address, and a new code (codes.code_for, generation =
  the transfer's sequence) whose hash replaces the old one: the old code, and the
  previous holder's cookie holding it, stop opening the pass at once;
- each ticket the holder claimed for an event not over yet moves with it: a new code
  (the old one no longer redeems nor opens its watch page), its claim order takes the
  new address and language and a new order token nobody holds (so the previous
  holder's order link and cookie stop showing the tickets), and `PassTransferred`
  ends the ticket's viewing sessions after the commit (viewing/ending.py);
- tickets of events already over (or cancelled) stay with their history, and with
  the previous holder's address on their orders;
- a `pass_transfers` row, an audit entry (`pass.transferred`, by the holder; no
  address), and through the outbox the pass mailed to the new holder (link with the
  new code in its fragment) and a notice to the previous one (transfer_mail.py).

Refused: 404 unknown pass or wrong code; 409 `not_transferable`, `pass_not_valid`
(refunded or disputed: not in force), `transfer_limit` (MAX_TRANSFERS reached);
422 `invalid_email` or `same_holder` on field `email`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func
from sqlmodel import Session, col, select

from config.settings import Settings
from streamsvc import audit
from streamsvc.catalog.events import status_of
from streamsvc.catalog.models import Event
from streamsvc.db import UnitOfWork
from streamsvc.errors import Conflict, ValidationFailed
from streamsvc.kit.ids import new_id
from streamsvc.kit.validation import Email, mask_email
from streamsvc.notifications.mail import mail_locale
from streamsvc.orders.buying import hash_token
from streamsvc.orders.models import Order, Ticket
from streamsvc.orders.settlement import new_ticket_code
from streamsvc.passes import codes, views
from streamsvc.passes.events import PassTransferred
from streamsvc.passes.models import (
    MAX_TRANSFERS,
    PassClaim,
    PassHolding,
    PassProduct,
    PassTransfer,
)
from streamsvc.passes.recognition import IN_FORCE, OVER

# A redeem with the old code that raced the transfer started its session just after the
# transfer's clock reading, before the commit: those sessions end too.
SESSION_GRACE = timedelta(seconds=30)
_ADDRESS: TypeAdapter[str] = TypeAdapter(Email)


@dataclass(frozen=True)
class Transferred:
    transfer_id: str
    sequence: int  # 1 for the pass's first transfer
    new_holder: str  # the new address, masked (mask_email)
    tickets_moved: int


def checked_address(new_email: str) -> str:
    """The new holder's address, checked as checkout checks a buyer's (kit.validation
    Email, the type of OrderCreate.email); 422 `invalid_email` on field `email`."""
    try:
        return _ADDRESS.validate_python(new_email[:400])
    except ValidationError as exc:
        raise ValidationFailed("That is not an e-mail address.", code="invalid_email",
                               fields={"email": "not an e-mail address"}) from exc  # fmt: skip


def transfer_pass(
    uow: UnitOfWork, holding_id: str, code: str, new_email: str, now: datetime, *,
    settings: Settings, locale: str,
) -> Transferred:  # fmt: skip
    """Hand the pass to `new_email` (see the module). `locale`: the language of the
    page the holder asked on, which their notice is written in."""
    session = uow.session
    # Locked before the code is checked: of two transfers at once, the second finds the
    # code replaced and is refused as any wrong code is.
    session.exec(select(PassHolding).where(PassHolding.id == holding_id).with_for_update()).first()
    holding = views.authorised(session, holding_id, code)
    product = session.get(PassProduct, holding.pass_id)
    order = session.get(Order, holding.order_id)
    assert product is not None and order is not None
    if not product.transferable:
        raise Conflict("This pass cannot be transferred.", code="not_transferable")
    if order.status not in IN_FORCE or order.paid_at is None:
        raise Conflict("This pass is not (or no longer) valid.", code="pass_not_valid")
    address = checked_address(new_email)
    if address.lower() == holding.email.strip().lower():
        raise ValidationFailed("The pass is already held by that address.", code="same_holder",
                               fields={"email": "another person's address"})  # fmt: skip
    done = transfers_of(session, holding.id)
    if done >= MAX_TRANSFERS:
        raise Conflict(f"This pass has been transferred {done} times, its limit.",
                       code="transfer_limit")  # fmt: skip
    new_locale = _language_of(session, holding.venue_id, address, order.locale)
    moved = _move_tickets(session, holding, address, new_locale, now)
    sequence = done + 1
    transfer = PassTransfer(
        id=new_id("ptr"), holding_id=holding.id, sequence=sequence,
        previous_email=holding.email, previous_locale=mail_locale(locale),
        new_locale=new_locale, tickets_moved=len(moved), created_at=now,
    )  # fmt: skip
    session.add(transfer)
    holding.email = address
    holding.code_hash = codes.hash_code(codes.code_for(settings, holding.id, generation=sequence))
    session.add(holding)
    session.flush()
    audit.record(
        session, venue_id=holding.venue_id, action="pass.transferred",
        object_type="pass_holding", object_id=holding.id,
        changes={"pass_id": product.id, "transfer": sequence, "tickets_moved": len(moved)},
    )  # fmt: skip
    before_ms = int((now + SESSION_GRACE).timestamp() * 1000)
    uow.emit(PassTransferred(transfer.id, moved, before_ms))
    return Transferred(transfer.id, sequence, mask_email(address), len(moved))


def transfers_of(session: Session, holding_id: str) -> int:
    return session.exec(
        select(func.count()).select_from(PassTransfer).where(PassTransfer.holding_id == holding_id)
    ).one()


def _move_tickets(
    session: Session, holding: PassHolding, address: str, locale: str, now: datetime
) -> list[str]:
    """Give the claimed tickets of events not over the new holder; their ids."""
    rows = session.exec(
        select(PassClaim, Ticket, Order, Event)
        .join(Ticket, col(Ticket.id) == col(PassClaim.ticket_id))
        .join(Order, col(Order.id) == col(PassClaim.order_id))
        .join(Event, col(Event.id) == col(PassClaim.event_id))
        .where(PassClaim.holding_id == holding.id)
        .order_by(col(PassClaim.id))
        .with_for_update(of=[Ticket, Order])
    ).all()
    moved = []
    for _claim, ticket, claim_order, event in rows:
        if status_of(event, now) in OVER:
            continue
        ticket.code, ticket.updated_at = new_ticket_code(), now
        # A token nobody holds: the order page's link went to the previous holder. The
        # new holder reaches these tickets from the pass page.
        claim_order.token_hash = hash_token(secrets.token_urlsafe(32))
        claim_order.email, claim_order.locale, claim_order.updated_at = address, locale, now
        session.add_all([ticket, claim_order])
        moved.append(ticket.id)
    return moved


def _language_of(session: Session, venue_id: str, address: str, sold_in: str) -> str:
    """The new holder's language, if they ordered at this venue before (their latest
    order's); else the language the pass was sold in, as the pass mail uses."""
    known = session.exec(
        select(Order.locale)
        .where(Order.venue_id == venue_id, func.lower(Order.email) == address.lower())
        .order_by(col(Order.created_at).desc())
        .limit(1)
    ).first()
    return mail_locale(known or sold_in)


def forget_previous_addresses(session: Session, venue_id: str, address: str) -> int:
    """Erasure (buyers/erasure.py): empty the previous-holder address of the venue's
    transfers from `address` whose notice is not sent yet; the number emptied."""
    transfers = session.exec(
        select(PassTransfer)
        .join(PassHolding, col(PassHolding.id) == col(PassTransfer.holding_id))
        .where(PassHolding.venue_id == venue_id)
        .where(func.lower(PassTransfer.previous_email) == address.strip().lower())
        .with_for_update(of=PassTransfer)
    ).all()
    for transfer in transfers:
        transfer.previous_email = None
        session.add(transfer)
    return len(transfers)
