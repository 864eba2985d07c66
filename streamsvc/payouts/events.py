"""What the payouts raise: a batch marked paid, whose parties get their payout advice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from streamsvc.kit.events import DomainEvent


@dataclass(frozen=True)
class PayoutBatchPaid(DomainEvent):
    """The bank executed a batch: mail each paid party its payout advice (once each)."""

    durable: ClassVar[bool] = True
    batch_id: str
