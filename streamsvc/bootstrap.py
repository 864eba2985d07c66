"""The one place where domain events meet their handlers, for the API and the worker.

Both build their message bus here from what they hold (a Redis client, a way to
enqueue a task), so an effect wired for one is wired for the other.
"""

from __future__ import annotations

from collections.abc import Callable

import redis

from config.settings import Settings
from streamsvc.orders.events import TicketsIssued, TicketStatusChanged
from streamsvc.outbox.bus import MessageBus
from streamsvc.viewing.revocation import RevocationMirror

Enqueue = Callable[[str, str], None]


def message_bus(settings: Settings, redis_client: redis.Redis, enqueue: Enqueue) -> MessageBus:
    bus = MessageBus()
    mirror = RevocationMirror(redis_client, settings)

    def mirror_ticket_statuses(event: TicketStatusChanged) -> None:
        mirror(event.statuses)

    def mail_tickets(event: TicketsIssued) -> None:
        enqueue("orders.send_tickets", event.order_id)

    bus.register(TicketStatusChanged, mirror_ticket_statuses)
    bus.register(TicketsIssued, mail_tickets)
    return bus
