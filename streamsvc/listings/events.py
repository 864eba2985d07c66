"""The domain events of the public catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from streamsvc.kit.events import DomainEvent


@dataclass(frozen=True)
class CatalogueChanged(DomainEvent):
    """Something a catalogue page shows was written: cached pages load again. Not
    durable: a lost one costs at most the cache's lifetime of staleness."""


@dataclass(frozen=True)
class ListingChanged(DomainEvent):
    """An event offered to UiTdatabank was published, changed or cancelled (or an admin
    asked to push it again, `force`): send UiTdatabank what it should now list. Must
    not be lost: a listing left stale sells tickets for the wrong time or a cancelled
    show. The push is idempotent (it remembers UiTdatabank's id and what it sent)."""

    durable: ClassVar[bool] = True
    event_id: str
    force: bool = False


@dataclass(frozen=True)
class VenueListingsChanged(DomainEvent):
    """The venue's UiTdatabank place changed: its offered events are sent again."""

    durable: ClassVar[bool] = True
    venue_id: str
