"""The domain events the recordings package raises itself (a bought access's are the
orders package's: orders/events.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from streamsvc.kit.events import DomainEvent


@dataclass(frozen=True)
class IncludedRecordingIssued(DomainEvent):
    """A ticket's tier included a recording and its holder's access now exists: mail the
    order's e-mail the watch link, once (recordings/included.py). Must not be lost."""

    durable: ClassVar[bool] = True
    access_id: str
