"""Outbox task: beat asks the relay to apply what failed after its commit."""

from __future__ import annotations

from celery import shared_task

from streamsvc.outbox.relay import relay
from workers.base import StreamsvcTask


@shared_task(base=StreamsvcTask, bind=True, name="outbox.relay", ignore_result=True)  # type: ignore[untyped-decorator]
def relay_outbox(self: StreamsvcTask) -> int:
    """Apply due outbox messages until none is left (a batch at a time)."""
    resources = self.resources
    total = 0
    while (applied := relay(resources.database, resources.bus, resources.clock.now())) > 0:
        total += applied
    return total
