"""The Redis key schema of viewing, in one place.

Every key of a ticket carries the ticket id as a Redis Cluster hash tag, so all of
one ticket's keys live in one slot and a Lua script or a pipeline may touch them
together. A recording access has the same keys under its own id (`rac_…`, never a
ticket's), so its sessions and device slots work as a ticket's:

    streamsvc:view:{<ticket id>}:devices      ZSET  session id -> last heartbeat (ms)
    streamsvc:view:{<ticket id>}:by-device    HASH  device id -> session id
    streamsvc:view:{<ticket id>}:s:<session>  HASH  device, state (active|replaced), started
    streamsvc:view:{<ticket id>}:revoked      STRING revoked|suspended
    streamsvc:view:changes                     pub/sub channel of ticket ids (see below)

Every key of an event's audience carries the event id as its hash tag instead, so
they share one slot with each other, never with a ticket's keys (audience.py):

    streamsvc:view:{<event id>}:live      ZSET  session id -> last heartbeat (ms)
    streamsvc:view:{<event id>}:minutes   HASH  s:<minute> -> sessions playing in that
                                                minute, w:<minute> -> ms watched in it
                                                (<minute>: minutes since the epoch, UTC)
    streamsvc:view:{<event id>}:tickets   SET   ticket ids that played
    streamsvc:view:{<event id>}:viewers   HASH  tier:<tier id>, country:<CC> -> tickets

A ticket's session script and its event's audience script are two commands, one
slot each, so both work on a Redis Cluster.

TTLs: session keys live `session_idle_seconds` after their last heartbeat, so a
player that stopped frees its device slot; the revocation marker lives as long as
any token or session of the ticket could (token lifetime + leeway + idle time).
PostgreSQL stays the truth: when these keys are lost, players redeem again, and
redemption checks the ticket in PostgreSQL.

The `live` set lives `session_idle_seconds` after its last write (and sheds sessions
idle that long at every write); the audience figures (`minutes`, `tickets`, `viewers`)
live AUDIENCE_TTL_SECONDS after their last write, long after the beat task
`viewing.copy_recent_audiences` has copied them into PostgreSQL (viewing/report.py).
"""

from __future__ import annotations

PREFIX = "streamsvc:view:"
# Pub/sub: a ticket id is published whenever what authorize would answer for it may
# have changed (revoked, restored, a session replaced or ended), so that API
# processes drop what they remembered about it at once.
CHANGES_CHANNEL = "streamsvc:view:changes"
# How long an event's audience figures outlive their last write: the copy task copies
# an event until COPY_GRACE_HOURS after its last viewing window closed (report.py),
# every few minutes, so a week leaves days to spare for a worker that was down.
AUDIENCE_TTL_SECONDS = 7 * 24 * 3600


def ticket_keys(ticket_id: str) -> tuple[str, str, str]:
    """(devices, by-device, revoked) of a ticket."""
    base = f"{PREFIX}{{{ticket_id}}}"
    return f"{base}:devices", f"{base}:by-device", f"{base}:revoked"


def session_key(ticket_id: str, session_id: str) -> str:
    return f"{PREFIX}{{{ticket_id}}}:s:{session_id}"


def session_prefix(ticket_id: str) -> str:
    """What the Lua scripts prepend to a session id to get its key."""
    return f"{PREFIX}{{{ticket_id}}}:s:"


def event_keys(event_id: str) -> tuple[str, str, str, str]:
    """(live, minutes, tickets, viewers) of an event: one slot, the event's."""
    base = f"{PREFIX}{{{event_id}}}"
    return f"{base}:live", f"{base}:minutes", f"{base}:tickets", f"{base}:viewers"
