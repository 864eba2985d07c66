"""Single-statement reads from the event loop: a small pool of psycopg async connections.

The unit of work (db.py) is for what writes, or reads more than once: a thread of
the pool, a transaction, a pre-ping per checkout. A read that is one SELECT needs
none of that: one statement is its own consistent snapshot, so it runs in autocommit
(no BEGIN, no COMMIT), on the event loop (no hop to a thread), in one round trip.

A pooled connection is not pinged before use. One that died while idle (PostgreSQL
restarted, a proxy cut it) fails its statement; then every idle connection is dropped
(they are likely as dead) and the read is tried once more on a new connection. Only
when that fails too is PostgreSQL unreachable: `ReadsUnavailable`, said in the log
once per outage. Nothing here commits: there is nothing to commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import AsyncConnection

from streamsvc.db import normalise_url
from streamsvc.kit.outage import Outage

log = logging.getLogger(__name__)
APPLICATION_NAME = "streamsvc reads"


class ReadsUnavailable(Exception):
    """PostgreSQL did not answer the read: unreachable, or no connection free in time."""


class ReadPool:
    """At most `size` connections at once; a read waits up to `wait_seconds` for one."""

    def __init__(
        self, url: str, *, size: int = 10, wait_seconds: float = 5.0,
        connect_timeout: int = 5, max_age_seconds: float = 1800.0,
    ) -> None:  # fmt: skip
        # libpq's own URL: the SQLAlchemy driver suffix means nothing to it.
        self._conninfo = normalise_url(url).replace("postgresql+psycopg://", "postgresql://", 1)
        self._connect_timeout = connect_timeout
        self._wait_seconds = wait_seconds
        self._max_age = max_age_seconds
        self._slots = asyncio.Semaphore(size)
        self._idle: list[tuple[AsyncConnection[Any], float]] = []  # last returned, first reused
        self._closed = False
        self.outage = Outage("PostgreSQL (single reads)", log,
                             "ticket redemption answers 503 until it is back")  # fmt: skip

    async def fetch_one(self, query: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row `query` gives (None: no row); ReadsUnavailable when PostgreSQL
        does not answer. Any other database error (a bad statement) is raised as is."""
        await self._acquire()
        try:
            try:
                row = await self._read(query, params)
            except psycopg.OperationalError as exc:
                self.outage.began(exc)
                raise ReadsUnavailable(str(exc)) from exc
        finally:
            self._slots.release()
        if self.outage.down:
            self.outage.over()
        return row

    async def _acquire(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # free: no timer needed
            return
        try:
            await asyncio.wait_for(self._slots.acquire(), self._wait_seconds)
        except TimeoutError as exc:
            raise ReadsUnavailable("no connection free in time") from exc

    async def _read(self, query: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        pooled = await self._take()
        if pooled is not None:
            conn, born = pooled
            try:
                return await self._run(conn, born, query, params)
            except psycopg.OperationalError:
                if not conn.broken:
                    raise  # the server answered with an error: the connection was alive
                # Dead while idle: the others most likely too. Once, on a new one.
                await self._drop_idle()
        conn = await AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=self._connect_timeout,
            application_name=APPLICATION_NAME,
        )  # fmt: skip
        return await self._run(conn, time.monotonic(), query, params)

    async def _run(
        self, conn: AsyncConnection[Any], born: float, query: str, params: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        try:
            cursor = await conn.execute(query, params)
            row = await cursor.fetchone()
        except BaseException:
            # Failed or cancelled mid-statement: its state is unknown, never reuse it.
            await conn.close()
            raise
        if self._closed:
            await conn.close()
        else:
            self._idle.append((conn, born))
        return row

    async def _take(self) -> tuple[AsyncConnection[Any], float] | None:
        while self._idle:
            conn, born = self._idle.pop()
            if not conn.closed and time.monotonic() - born < self._max_age:
                return conn, born
            # Closed under us, or old enough to be replaced (as the engine's pool_recycle).
            await conn.close()
        return None

    async def _drop_idle(self) -> None:
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            await conn.close()

    async def close(self) -> None:
        """Close the idle connections; one in use is closed when its read ends."""
        self._closed = True
        await self._drop_idle()
