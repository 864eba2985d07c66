"""The domain events of the public catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from streamsvc.kit.events import DomainEvent


@dataclass(frozen=True)
class CatalogueChanged(DomainEvent):
    """Something a catalogue page shows was written: cached pages load again. Not
    durable: a lost one costs at most the cache's lifetime of staleness."""
