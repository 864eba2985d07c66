"""Ending every viewing session of tickets that changed hands, right after the commit.

A ticket whose code was replaced (passes/transfer.py gives a transferred pass's
tickets new codes) stays valid, so its revocation marker cannot say "stop": the
previous holder's players would watch on with the sessions they hold. Their
sessions are ended instead: the keys go, the next heartbeat or authorize finds the
session `unknown`, and redeeming again needs the ticket's code, which they no longer
have. The handler of passes' PassTransferred (wired in streamsvc.bootstrap), applied
again by the outbox relay if Redis was unreachable.

Only sessions started before a given moment are ended, so applying it twice (the
relay after the fast path) never ends the session the new holder started since.
"""

from __future__ import annotations

from collections.abc import Sequence

from streamsvc.kit.redis_clients import SyncRedis, pipelined_script
from streamsvc.viewing import keys

# KEYS: devices, by-device of one ticket (one slot: its hash tag); a session's key is
# the prefix and its id, in the same slot, as in store.py's scripts.
_END_BEFORE = """
local devices, bydev = KEYS[1], KEYS[2]
local prefix, before, channel, ticket = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local ended = 0
for _, sid in ipairs(redis.call('ZRANGE', devices, 0, -1)) do
  local key = prefix .. sid
  local started = tonumber(redis.call('HGET', key, 'started') or '0') or 0
  if started < before then
    local dev = redis.call('HGET', key, 'device')
    redis.call('ZREM', devices, sid)
    if dev and redis.call('HGET', bydev, dev) == sid then redis.call('HDEL', bydev, dev) end
    ended = ended + redis.call('DEL', key)
  end
end
redis.call('PUBLISH', channel, ticket)
return ended
"""


class TicketSessionsEnder:
    """Ends the tickets' sessions started before a moment; idempotent (module docstring)."""

    def __init__(self, client: SyncRedis) -> None:
        self.client = client

    def __call__(self, ticket_ids: Sequence[str], before_ms: int) -> int:
        """The number of sessions ended."""
        if not ticket_ids:
            return 0
        # One script per ticket (its own slot), no transaction: on a cluster the tickets
        # live on several nodes, and each ticket's ending stands on its own.
        with self.client.pipeline(transaction=False) as pipe:
            for ticket_id in ticket_ids:
                devices, by_device, _ = keys.ticket_keys(ticket_id)
                pipelined_script(pipe, _END_BEFORE, [devices, by_device],
                                 [keys.session_prefix(ticket_id), before_ms,
                                  keys.CHANGES_CHANNEL, ticket_id])  # fmt: skip
            answers = pipe.execute()
        return sum(int(answer) for answer in answers)
