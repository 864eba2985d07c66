"""The webhook intake: the Stripe events of concurrent webhook requests of one process
stored with one commit (group commit).

Each request verifies its event and builds its inbox row (`inbox.inbox_row`; a
malformed event is refused there, alone), then waits here. A flush takes every row
waiting, inserts them with one statement (`inbox.store`), raises one
StripeEventsReceived for those to process (one broker message after the commit; no
outbox row: a `received` row is its own cue, payments/events.py) and commits; only
then is each request told whether its event was new, so every 2xx still follows a
durable commit. Rows that arrive during a flush wait for the next one: under
load the batches grow by themselves, and a lone request waits for no timer.

Like the request boundary, the intake opens its own unit of work: it is where the
webhook's transaction commits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import anyio.to_thread
from sqlalchemy.exc import DataError, IntegrityError

from streamsvc.db import Database
from streamsvc.payments import inbox
from streamsvc.payments.events import StripeEventsReceived

log = logging.getLogger(__name__)
# Rows a statement may carry (Stripe events are a few kB each).
MAX_BATCH = 100
# Flushes at once. One: rows gather while it commits, so a process under load stores
# them in fewer, larger statements (on two busy cores a second flush at once took more
# CPU per event and did not answer sooner).
FLUSHES = 1
# What PostgreSQL refuses of a row itself: stored alone, it fails alone.
_ROW_ERRORS = (DataError, IntegrityError)

_Waiting = tuple[dict[str, Any], "asyncio.Future[bool]"]


class WebhookIntake:
    """Stores inbox rows of concurrent requests together; one per API process."""

    def __init__(
        self, database: Database, max_batch: int = MAX_BATCH, flushes: int = FLUSHES
    ) -> None:
        self.database = database
        self.max_batch = max_batch
        self.flushes = flushes
        self._waiting: list[_Waiting] = []
        self._flushing: set[asyncio.Task[None]] = set()  # held: a task is otherwise dropped

    async def receive(self, row: dict[str, Any]) -> bool:
        """Store one inbox row, once it is durable: is its event new (False: stored
        before, or by a concurrent delivery answered new). Raises what storing raised."""
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((row, answer))
        if len(self._flushing) < self.flushes:
            task = asyncio.create_task(self._flush_while_waiting())
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)
        # Shielded: a client that hangs up does not cancel the flush its row is in.
        return await asyncio.shield(answer)

    async def _flush_while_waiting(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            await self._flush(batch)

    async def _flush(self, batch: list[_Waiting]) -> None:
        rows = [row for row, _ in batch]
        try:
            outcomes = await anyio.to_thread.run_sync(self._store, rows)
        except _ROW_ERRORS as exc:
            if len(batch) == 1:
                _answer(batch[0][1], exc)
                return
            # One row PostgreSQL refuses must not fail the others: each alone.
            log.warning("a webhook batch of %d failed (%s); storing each alone", len(batch), exc)
            for waiting in batch:
                await self._flush([waiting])
            return
        except Exception as exc:  # the database unreachable: each request answers 500
            for _, answer in batch:
                _answer(answer, exc)
            return
        for (_, answer), new in zip(batch, outcomes, strict=True):
            _answer(answer, new)

    def _store(self, rows: Sequence[dict[str, Any]]) -> list[bool]:
        with self.database.unit_of_work() as uow:
            outcomes = inbox.store(uow.session, rows)
            to_process = tuple(
                row["id"] for row, (_, process) in zip(rows, outcomes, strict=True) if process
            )
            if to_process:
                uow.emit(StripeEventsReceived(to_process))
        return [new for new, _ in outcomes]


def _answer(answer: asyncio.Future[bool], outcome: bool | BaseException) -> None:
    if answer.done():
        return
    if isinstance(outcome, BaseException):
        answer.set_exception(outcome)
    else:
        answer.set_result(outcome)
