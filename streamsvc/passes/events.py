"""What happens to season passes that others act on after the commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from streamsvc.kit.events import DomainEvent


@dataclass(frozen=True)
class PassTransferred(DomainEvent):
    """A pass changed hands (passes/transfer.py): the viewing sessions of the tickets
    that moved with it end (those started before `sessions_before_ms`, so applying it
    again spares the new holder's), the new holder is mailed the pass and the previous
    one a notice. Carries ids only, never an address or a code. Must not be lost."""

    durable: ClassVar[bool] = True
    transfer_id: str
    ticket_ids: list[str]
    sessions_before_ms: int
