"""Mirroring ticket status changes into Redis right after they are committed."""

from __future__ import annotations

import redis

from config.settings import Settings
from streamsvc.orders.state import TICKET_CHANGES
from streamsvc.viewing.store import mark_tickets


def marker_ttl(settings: Settings) -> int:
    """Long enough to outlive every token and session that existed when it was set."""
    return (
        settings.viewing_token_ttl_seconds
        + settings.viewing_clock_skew_seconds
        + settings.viewing_session_idle_seconds
    )


class RevocationMirror:
    """A Database commit hook: revoked and suspended tickets are refused at once."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.ttl = marker_ttl(settings)

    def __call__(self, noted: dict[str, object]) -> None:
        statuses = noted.get(TICKET_CHANGES)
        if isinstance(statuses, dict) and statuses:
            mark_tickets(self.client, statuses, self.ttl)
