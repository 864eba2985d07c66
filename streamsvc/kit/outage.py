"""A dependency's outage as one process sees it: said in the log once when it starts
and once when it ends, however many requests meet it in between."""

from __future__ import annotations

import logging
import threading


class Outage:
    """Flipped by the first failure, reset by the first success after it.

    `down` is a plain attribute, so the success path costs one attribute read:
    `if outage.down: outage.over()`. The transitions take a lock, so that requests
    on several threads log one line per transition, not one each."""

    def __init__(self, dependency: str, log: logging.Logger, consequence: str) -> None:
        self.dependency = dependency
        self.log = log
        self.consequence = consequence  # what callers see meanwhile, for the log line
        self.down = False
        self._lock = threading.Lock()

    def began(self, exc: BaseException) -> None:
        """A call failed for want of the dependency (logged if it was up until now)."""
        if self.down:
            return
        with self._lock:
            if self.down:
                return
            self.down = True
        self.log.error("%s unreachable (%s: %s); %s",
                       self.dependency, type(exc).__name__, exc, self.consequence)  # fmt: skip

    def over(self) -> None:
        """A call succeeded (logged if the dependency was down until now)."""
        with self._lock:
            if not self.down:
                return
            self.down = False
        self.log.warning("%s reachable again", self.dependency)
