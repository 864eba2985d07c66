"""What the payments domain raises for others to act on after the commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from streamsvc.kit.events import DomainEvent


@dataclass(frozen=True)
class StripeEventsReceived(DomainEvent):
    """Stripe events are stored in the inbox, in one commit, and answered: a worker
    applies them (the inbox applies an event once, however often it is asked).

    Not durable, yet not lost (Stripe does not deliver again what was answered with
    2xx): the inbox is its own outbox. Should the broker be unreachable at the commit,
    the events stay `received`, and the inbox sweep (`payments.sweep_inbox`, on beat)
    hands them to a worker later."""

    event_ids: tuple[str, ...]


@dataclass(frozen=True)
class StripeEventReceived(DomainEvent):
    """One Stripe event stored and answered, as releases before StripeEventsReceived
    raised it: kept so that their messages still pending in an outbox are applied."""

    durable: ClassVar[bool] = True
    event_id: str


@dataclass(frozen=True)
class PayoutReported(DomainEvent):
    """Stripe reported a payout of the balance to the operator's bank (created, paid,
    failed ...): a worker posts it to the ledger (once per step, however often asked).
    Must not be lost: the event that reported it is processed and not applied again."""

    durable: ClassVar[bool] = True
    payout_id: str
