"""The published catalogue, cached per API process, so an on-sale rush of page views
does not cost PostgreSQL a query per view.

Two things end a cached entry:
- a change: any transaction that writes an event, a tier, a venue or a performer
  raises `CatalogueChanged` (see `watch_catalogue_writes`), whose handler increments
  one Redis counter after the commit. Every view reads that counter (one Redis GET)
  and loads again when it moved, so a change on one API node reaches the pages of
  every node at once;
- time: an entry lives `STREAMSVC_CATALOGUE_CACHE_SECONDS` on the service's clock.
  This bounds what no write announces: an event going live at its start time, a
  sales window opening, and seats sold (the capacity hold is one conditional UPDATE
  per tier, not an ORM write, and a rush must not invalidate on every sale). A
  buyer never gets a seat that is not there: the order itself is the authority.

Should Redis be unreachable, the pages load from PostgreSQL every time (correct,
only slower) rather than serve what might be stale for good.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import redis
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession

from streamsvc.catalog.models import Event, EventPerformer, Performer, Tier
from streamsvc.db import EventSession, emit
from streamsvc.kit.outage import Outage
from streamsvc.kit.redis_clients import AsyncRedis, SyncRedis
from streamsvc.listings.events import CatalogueChanged
from streamsvc.venues.models import Venue

log = logging.getLogger(__name__)
VERSION_KEY = "streamsvc:catalogue:version"
_WATCHED = (Event, Tier, Venue, Performer, EventPerformer)
T = TypeVar("T")


def _raise_on_catalogue_write(session: OrmSession, _context: Any, _instances: Any) -> None:
    if not isinstance(session, EventSession):
        return
    if any(isinstance(e, CatalogueChanged) for e in session.events):
        return
    touched = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, _WATCHED) for obj in touched):
        emit(session, CatalogueChanged())


def watch_catalogue_writes() -> None:
    """Raise CatalogueChanged from every unit of work that writes the catalogue.
    Idempotent: called by each bus built in a process (API and worker)."""
    if not sa_event.contains(EventSession, "before_flush", _raise_on_catalogue_write):
        sa_event.listen(EventSession, "before_flush", _raise_on_catalogue_write)


def announce_change(redis_client: SyncRedis) -> None:
    """The handler of CatalogueChanged: every node's cache loads again."""
    redis_client.incr(VERSION_KEY)


@dataclass
class _Entry:
    version: bytes | str | None
    loaded_at: datetime
    value: Any


class CatalogueCache:
    """Entries by key (`("upcoming", base_url)`, `("event", id, base_url)`)."""

    def __init__(self, redis_client: AsyncRedis, ttl: timedelta) -> None:
        self._redis = redis_client
        self._ttl = ttl
        self._entries: dict[tuple[str, ...], _Entry] = {}
        self._outage = Outage("the catalogue cache's Redis", log, "pages load from PostgreSQL")

    async def get(
        self,
        key: tuple[str, ...],
        now: datetime,
        load: Callable[[], Awaitable[T]],
        *,
        fresh: bool = False,
    ) -> T:
        """The cached value of `key`, or `load()`'s. `fresh`: load whatever is cached
        (a refused order is proof that the page showed stale seats)."""
        if self._ttl <= timedelta(0):
            return await load()
        try:
            version = await self._redis.get(VERSION_KEY)
        except redis.RedisError as exc:
            self._outage.began(exc)
            return await load()
        self._outage.over()
        entry = self._entries.get(key)
        if (
            not fresh
            and entry is not None
            and entry.version == version
            and entry.loaded_at <= now < entry.loaded_at + self._ttl
        ):
            value: T = entry.value
            return value
        value = await load()
        if len(self._entries) > 10_000:  # event ids come from URLs: bound the memory
            self._entries.clear()
        self._entries[key] = _Entry(version, now, value)
        return value
