"""Enqueueing tasks by name, so that the API does not import task modules."""

from __future__ import annotations

from typing import Any, Protocol


class TaskQueue(Protocol):
    def enqueue(self, name: str, *args: str) -> None:
        """Send task `name` with these ids; call it only after the data is committed."""
        ...


class CeleryQueue:
    def __init__(self, app: Any) -> None:
        self.app = app

    def enqueue(self, name: str, *args: str) -> None:
        self.app.send_task(name, args=list(args))
