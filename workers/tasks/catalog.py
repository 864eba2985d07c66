"""Catalogue tasks."""

from __future__ import annotations

from celery import shared_task

from streamsvc.catalog.events import advance_states
from streamsvc.kit.clock import SystemClock
from workers.base import StreamsvcTask


@shared_task(  # type: ignore[untyped-decorator]
    base=StreamsvcTask, bind=True, name="catalog.advance_event_states", ignore_result=True
)
def advance_event_states(self: StreamsvcTask) -> int:
    """Persist live/ended as the clock says; reads compute the same, so this is bookkeeping."""
    with self.unit_of_work() as uow:
        return advance_states(uow.session, SystemClock().now())
