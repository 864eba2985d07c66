"""What the payments domain raises for others to act on after the commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from streamsvc.kit.events import DomainEvent


@dataclass(frozen=True)
class StripeEventReceived(DomainEvent):
    """A Stripe event is stored in the inbox and answered: a worker applies it (the
    inbox applies an event once, however often it is asked). Must not be lost: Stripe
    does not deliver again what was answered with 2xx."""

    durable: ClassVar[bool] = True
    event_id: str


@dataclass(frozen=True)
class PayoutReported(DomainEvent):
    """Stripe reported a payout of the balance to the operator's bank (created, paid,
    failed ...): a worker posts it to the ledger (once per step, however often asked).
    Must not be lost: the event that reported it is processed and not applied again."""

    durable: ClassVar[bool] = True
    payout_id: str
