"""The Redis key schema of viewing, in one place.

Every key of a ticket carries the ticket id as a Redis Cluster hash tag, so all of
one ticket's keys live in one slot and a Lua script or a pipeline may touch them
together:

    streamsvc:view:{<ticket id>}:devices      ZSET  session id -> last heartbeat (ms)
    streamsvc:view:{<ticket id>}:by-device    HASH  device id -> session id
    streamsvc:view:{<ticket id>}:s:<session>  HASH  device, state (active|replaced), started
    streamsvc:view:{<ticket id>}:revoked      STRING revoked|suspended
    streamsvc:view:changes                     pub/sub channel of ticket ids (see below)

TTLs: session keys live `session_idle_seconds` after their last heartbeat, so a
player that stopped frees its device slot; the revocation marker lives as long as
any token or session of the ticket could (token lifetime + leeway + idle time).
PostgreSQL stays the truth: when these keys are lost, players redeem again, and
redemption checks the ticket in PostgreSQL.
"""

from __future__ import annotations

PREFIX = "streamsvc:view:"
# Pub/sub: a ticket id is published whenever what authorize would answer for it may
# have changed (revoked, restored, a session replaced or ended), so that API
# processes drop what they remembered about it at once.
CHANGES_CHANNEL = "streamsvc:view:changes"


def ticket_keys(ticket_id: str) -> tuple[str, str, str]:
    """(devices, by-device, revoked) of a ticket."""
    base = f"{PREFIX}{{{ticket_id}}}"
    return f"{base}:devices", f"{base}:by-device", f"{base}:revoked"


def session_key(ticket_id: str, session_id: str) -> str:
    return f"{PREFIX}{{{ticket_id}}}:s:{session_id}"


def session_prefix(ticket_id: str) -> str:
    """What the Lua scripts prepend to a session id to get its key."""
    return f"{PREFIX}{{{ticket_id}}}:s:"
