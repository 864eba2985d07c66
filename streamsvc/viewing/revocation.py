"""Mirroring ticket status changes into Redis right after they are committed (the
handler of orders' TicketStatusChanged, wired in streamsvc.bootstrap; applied again
by the outbox relay when Redis was unreachable at that moment)."""

from __future__ import annotations

from config.settings import Settings
from streamsvc.kit.redis_clients import SyncRedis
from streamsvc.viewing.store import mark_tickets


def marker_ttl(settings: Settings) -> int:
    """Long enough to outlive every token and session that existed when it was set."""
    return (
        settings.viewing_token_ttl_seconds
        + settings.viewing_clock_skew_seconds
        + settings.viewing_session_idle_seconds
    )


class RevocationMirror:
    """Revoked and suspended tickets are refused at once; valid ones let back in.
    Idempotent: applying the same statuses twice leaves Redis as once."""

    def __init__(self, client: SyncRedis, settings: Settings) -> None:
        self.client = client
        self.ttl = marker_ttl(settings)

    def __call__(self, statuses: dict[str, str]) -> None:
        mark_tickets(self.client, statuses, self.ttl)
