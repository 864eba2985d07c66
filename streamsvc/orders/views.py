"""Reading orders: the buyer's view (with the order token) and the staff view."""

from __future__ import annotations

import hmac
from datetime import datetime

from sqlmodel import Session, col, select

from streamsvc import audit
from streamsvc.db import emit
from streamsvc.errors import NotFound
from streamsvc.kit.pagination import Page, paginate
from streamsvc.orders.buying import hash_token, items_of
from streamsvc.orders.events import TicketStatusChanged
from streamsvc.orders.models import Order, Ticket, TicketStatus
from streamsvc.orders.schemas import (
    OrderItemOut,
    OrderListQuery,
    OrderOut,
    OrderSummary,
    PublicOrder,
    RefundOut,
    TicketPublic,
)
from streamsvc.payments.models import Refund
from streamsvc.venues.tenancy import owned


def tickets_of(session: Session, order_id: str) -> list[TicketPublic]:
    query = select(Ticket).where(Ticket.order_id == order_id)
    rows = session.exec(query.order_by(col(Ticket.order_item_id), col(Ticket.serial)))
    return [TicketPublic(id=t.id, code=t.code, tier_id=t.tier_id, status=t.status) for t in rows]


def authorised_order(session: Session, order_id: str, token: str) -> Order:
    """The order, of tickets or of a season pass, for the holder of its token: what the
    checkout and order pages serve; the same 404 for an unknown order and a wrong token."""
    order = session.get(Order, order_id)
    if order is None or not hmac.compare_digest(order.token_hash, hash_token(token)):
        raise NotFound("No such order.")
    return order


def public_order(session: Session, order_id: str, token: str) -> PublicOrder:
    order = authorised_order(session, order_id, token)
    # A season pass's order has no event and no tickets: the API's PublicOrder does not
    # describe it (the pages do, receipt.py; the pass itself is at /passes/{id}).
    if order.event_id is None:
        raise NotFound("No such order.")
    return PublicOrder(
        id=order.id, event_id=order.event_id, status=order.status,
        total_amount=order.total_amount, currency=order.currency, expires_at=order.expires_at,
        tickets=tickets_of(session, order.id) if order.paid_at is not None else [],
    )  # fmt: skip


def staff_order(session: Session, venue_id: str, order_id: str) -> OrderOut:
    """The order of an event's tickets or of a recording; a season pass's is not one here
    (the passes console shows it, with what only the pass knows)."""
    order = owned(session, Order, order_id, venue_id)
    if order.event_id is None and order.recording_id is None:
        raise NotFound("No such order.")
    refunds = session.exec(
        select(Refund).where(Refund.order_id == order.id).order_by(col(Refund.created_at))
    )
    return OrderOut(
        **order.model_dump(exclude={"venue_id", "token_hash", "capacity", "locale",
                                    "tickets_mailed_at", "updated_at"}),
        items=[OrderItemOut.model_validate(i, from_attributes=True)
               for i in items_of(session, order.id)],
        refunds=[RefundOut.model_validate(r, from_attributes=True) for r in refunds],
        tickets=tickets_of(session, order.id),
    )  # fmt: skip


def list_orders(session: Session, venue_id: str, query: OrderListQuery) -> Page[OrderSummary]:
    # Orders of an event's tickets and of recordings; a season pass's are the passes'.
    statement = select(Order).where(
        Order.venue_id == venue_id,
        col(Order.event_id).is_not(None) | col(Order.recording_id).is_not(None),
    )
    if query.event_id:
        statement = statement.where(Order.event_id == query.event_id)
    if query.recording_id:
        statement = statement.where(Order.recording_id == query.recording_id)
    if query.status:
        statement = statement.where(Order.status == query.status)
    if query.email:
        statement = statement.where(Order.email == query.email)
    rows, cursor = paginate(session, statement, col(Order.created_at), col(Order.id), query)
    return Page[OrderSummary](
        data=[OrderSummary.model_validate(r, from_attributes=True) for r in rows],
        next_cursor=cursor,
    )


def revoke_ticket(session: Session, venue_id: str, ticket_id: str, now: datetime) -> Ticket:
    """An admin's revocation: final, whatever later happens to the order."""
    ticket = owned(session, Ticket, ticket_id, venue_id, lock=True)
    before = ticket.status
    ticket.revoked_by_staff, ticket.status, ticket.updated_at = True, TicketStatus.revoked, now
    session.add(ticket)
    audit.record(
        session, venue_id=venue_id, action="ticket.revoked", object_type="ticket",
        object_id=ticket.id,
        changes={"status": audit.change(before.value, TicketStatus.revoked.value),
                 "order_id": ticket.order_id},
    )  # fmt: skip
    emit(session, TicketStatusChanged({ticket.id: TicketStatus.revoked.value}))
    return ticket
