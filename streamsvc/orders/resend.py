"""Sending the ticket mails again, to a buyer who lost them (/tickets/resend); a
recording's order gets its access mail again, the watch link with the code in its
fragment (recordings/mail.py), the same way.

The answer never says whether an address bought anything: the same words follow
whether or not paid orders exist for it, and the mails go only to that address.
Each request is rate-limited per address and per client, before the database is
asked, so the page cannot be used to flood a mailbox or to probe addresses by timing
many of them.

The mails take the ticket mail's own path: the order's `tickets_mailed_at` is
cleared and TicketsIssued raised, which the outbox carries to the worker's
`orders.send_tickets` (sent once, retried until the SMTP server takes it). For a
recording's order RecordingAccessIssued is raised instead, carried to
`recordings.send_access`, which marks the same column and sends only while the access
is valid. A season pass's order gets nothing here: its link goes to whoever holds the
pass now (passes/mail.py), who may no longer be the buyer.
"""

from __future__ import annotations

from datetime import datetime

from anyio import to_thread
from sqlalchemy import func
from sqlmodel import col, select

from streamsvc.db import Database
from streamsvc.errors import RateLimited
from streamsvc.kit.ratelimit import over_limit
from streamsvc.kit.redis_clients import AsyncRedis
from streamsvc.orders.events import RecordingAccessIssued, TicketsIssued
from streamsvc.orders.models import Order, OrderStatus

WINDOW_SECONDS = 3600
MAX_ORDERS = 20  # the most recent paid orders of one address get their mails again
# Orders whose tickets still let their holder in (a revoked ticket is not mailed).
_WITH_TICKETS = (OrderStatus.paid, OrderStatus.partially_refunded)


async def resend_tickets(
    redis: AsyncRedis,
    database: Database,
    *,
    email: str,
    client: str,
    now: datetime,
    per_email: int,
    per_client: int,
) -> None:
    """Mail the tickets of `email`'s paid orders again; 429 past either limit per hour."""
    address = email.strip().lower()
    # The client first: every request it makes counts, whichever address it names.
    for name, limit in ((f"resend:ip:{client}", per_client),
                        (f"resend:email:{address}", per_email)):  # fmt: skip
        retry_after = await over_limit(redis, name, limit, WINDOW_SECONDS, now.timestamp())
        if retry_after is not None:
            raise RateLimited("Too many requests for ticket mails; try again later.",
                              retry_after=retry_after)  # fmt: skip
    await to_thread.run_sync(mail_again, database, address, now)


def mail_again(database: Database, address: str, now: datetime) -> int:
    """Queue the ticket mails of the address's paid orders again; how many orders."""
    with database.unit_of_work() as uow:
        orders = uow.session.exec(
            select(Order)
            .where(
                func.lower(Order.email) == address,
                col(Order.status).in_(_WITH_TICKETS),
                col(Order.pass_id).is_(None),
            )
            .order_by(col(Order.created_at).desc())
            .limit(MAX_ORDERS)
            .with_for_update()
        ).all()
        for order in orders:
            order.tickets_mailed_at = None
            order.updated_at = now
            uow.session.add(order)
            uow.emit(mail_event(order))
        return len(orders)


def mail_event(order: Order) -> TicketsIssued | RecordingAccessIssued:
    """What mails a paid order's access again: a recording's watch link, else its tickets."""
    if order.recording_id is not None:
        return RecordingAccessIssued(order.id)
    return TicketsIssued(order.id)
