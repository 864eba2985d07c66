"""An event's audience, recorded cheaply in Redis as the viewing path goes: who is
watching now, and per minute how many sessions played and how long they watched.

What records, and what it costs (keys.py has the keys):
- redeem: one script on the event's slot (the session joins `live`; its minute counts;
  a ticket that plays for the first time counts once by tier and by country);
- heartbeat: one script on the event's slot, after the ticket's own script allowed it:
  the stretch since the session's previous heartbeat is added to its minutes;
- end of session, or a heartbeat refused (revoked, replaced, lapsed): one script that
  takes the session out of `live` (a session that ended adds its last stretch first);
- authorize: nothing. It stays one read of the ticket's slot.

The ticket's scripts (store.py) and these run on different slots, so they are separate
commands: on a Redis Cluster a script may only touch keys of one slot. The ticket's
script runs first and decides; a refused heartbeat never counts.

Concurrency per minute: a session counts in every minute in which it played for some
time (from redeem to its last heartbeat or its end); a session whose player simply
stopped counts up to its last heartbeat, so the figures lag by at most one heartbeat
and never count time no heartbeat vouched for. Recording never fails a viewer: Redis
refusing an audience command is logged (once per outage), the viewer plays on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from redis.exceptions import RedisError

from streamsvc.errors import DependencyUnavailable
from streamsvc.kit.outage import Outage
from streamsvc.kit.redis_clients import AsyncRedis, SyncRedis
from streamsvc.viewing import keys

log = logging.getLogger(__name__)
MINUTE_MS = 60_000
UNKNOWN_COUNTRY = "--"  # a viewer whose country nobody told us
RETRY_AFTER_SECONDS = 5
K = TypeVar("K", int, str)

# watched(prev, now): the stretch [prev, now) of one session into its minutes. Its first
# minute was counted when the session reached `prev`, so only later ones count again.
_WATCHED = """
local function watched(minutes, prev, now)
  local first, last = math.floor(prev / 60000), math.floor(now / 60000)
  for m = first, last do
    local from, to = math.max(prev, m * 60000), math.min(now, (m + 1) * 60000)
    if to > from then
      redis.call('HINCRBY', minutes, 'w:' .. m, to - from)
      if m > first then redis.call('HINCRBY', minutes, 's:' .. m, 1) end
    end
  end
end
"""

# A session was seen at `now` (redeem or heartbeat). ARGV[6..8] (ticket, tier,
# country) only at redeem; ARGV[9] the session a redeem replaced, if any.
_SEEN_BODY = """
local live, minutes, tickets, viewers = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local sid, now, idle_ms = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local live_ttl, keep = tonumber(ARGV[4]), tonumber(ARGV[5])
local ticket, tier, country, replaced = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
if replaced ~= '' then redis.call('ZREM', live, replaced) end
-- sessions idle longer than a device slot lasts leave; each leaves once (amortised)
redis.call('ZREMRANGEBYSCORE', live, '-inf', now - idle_ms - 1)
local prev = tonumber(redis.call('ZSCORE', live, sid))
if prev == nil then
  redis.call('HINCRBY', minutes, 's:' .. math.floor(now / 60000), 1)
  redis.call('ZADD', live, now, sid)
elseif now > prev then
  watched(minutes, prev, now)
  redis.call('ZADD', live, now, sid)
end
redis.call('EXPIRE', live, live_ttl)
redis.call('EXPIRE', minutes, keep)
if ticket ~= '' and redis.call('SADD', tickets, ticket) == 1 then
  redis.call('HINCRBY', viewers, 'tier:' .. tier, 1)
  redis.call('HINCRBY', viewers, 'country:' .. country, 1)
  redis.call('EXPIRE', tickets, keep)
  redis.call('EXPIRE', viewers, keep)
end
return 1
"""

# A session left: ended by its player at `now` (ARGV[4] = '1': it played until then),
# or refused at a heartbeat (it played until its last one).
_LEFT_BODY = """
local live, minutes = KEYS[1], KEYS[2]
local sid, now, idle_ms, played = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local prev = tonumber(redis.call('ZSCORE', live, sid))
if prev and played == '1' and now > prev and prev >= now - idle_ms then
  watched(minutes, prev, now)
end
return redis.call('ZREM', live, sid)
"""


@dataclass(frozen=True)
class AudienceBuckets:
    """What was recorded of an event's audience: per minute (since the epoch, UTC) the
    sessions that played in it and the milliseconds watched in it; tickets that played
    per tier id and per country ("--": not known)."""

    sessions: dict[int, int] = field(default_factory=dict)
    watched_ms: dict[int, int] = field(default_factory=dict)
    by_tier: dict[str, int] = field(default_factory=dict)
    by_country: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.sessions or self.watched_ms or self.by_tier or self.by_country)

    def merged(self, other: AudienceBuckets) -> AudienceBuckets:
        """Both, the larger figure of each: recorded figures only grow, so a copy and the
        live keys (or a copy taken before Redis lost its keys) never add up twice."""
        return AudienceBuckets(
            _larger(self.sessions, other.sessions),
            _larger(self.watched_ms, other.watched_ms),
            _larger(self.by_tier, other.by_tier),
            _larger(self.by_country, other.by_country),
        )


def _larger(mine: dict[K, int], theirs: dict[K, int]) -> dict[K, int]:
    return {k: max(mine.get(k, 0), theirs.get(k, 0)) for k in mine.keys() | theirs.keys()}


def parse_buckets(minutes: Mapping[bytes | str, bytes | str],
                  viewers: Mapping[bytes | str, bytes | str]) -> AudienceBuckets:  # fmt: skip
    """The two hashes as HGETALL gives them."""
    found = AudienceBuckets()
    for raw_name, raw_value in minutes.items():
        kind, _, minute = _text(raw_name).partition(":")
        target = found.sessions if kind == "s" else found.watched_ms if kind == "w" else None
        if target is not None and minute.lstrip("-").isdigit():
            target[int(minute)] = int(_text(raw_value))
    for raw_name, raw_value in viewers.items():
        kind, _, value = _text(raw_name).partition(":")
        if kind == "tier":
            found.by_tier[value] = int(_text(raw_value))
        elif kind == "country":
            found.by_country[value] = int(_text(raw_value))
    return found


class EventAudience:
    """Records and reads events' audiences (async, in the API), on the viewing client."""

    def __init__(self, client: AsyncRedis, idle_seconds: int) -> None:
        self.client = client
        self.idle_ms = idle_seconds * 1000
        self._seen = client.register_script(_WATCHED + _SEEN_BODY)
        self._left = client.register_script(_WATCHED + _LEFT_BODY)
        self.outage = Outage(
            "Redis (audience figures)", log,
            "viewers play on, but their minutes are not counted until it is back",
        )  # fmt: skip

    async def joined(
        self, event_id: str, session_id: str, *, now_ms: int, ticket_id: str, tier_id: str,
        country: str | None, replaced: str = "",
    ) -> None:  # fmt: skip
        """A redeem gave this session (new, or the device's own again)."""
        await self._record(self._seen, event_id, [
            session_id, now_ms, self.idle_ms, self.idle_ms // 1000, keys.AUDIENCE_TTL_SECONDS,
            ticket_id, tier_id, country or UNKNOWN_COUNTRY, replaced,
        ])  # fmt: skip

    async def watched(self, event_id: str, session_id: str, now_ms: int) -> None:
        """A heartbeat of an active session: it played since its previous one."""
        await self._record(self._seen, event_id, [
            session_id, now_ms, self.idle_ms, self.idle_ms // 1000, keys.AUDIENCE_TTL_SECONDS,
            "", "", "", "",
        ])  # fmt: skip

    async def heartbeat(self, event_id: str, session_id: str, state: str, now_ms: int) -> None:
        """After the ticket's heartbeat script: an active session played on; any other
        (revoked, replaced, lapsed) leaves the count without adding time."""
        if state == "active":
            await self.watched(event_id, session_id, now_ms)
        else:
            await self.left(event_id, session_id, now_ms, played=False)

    async def left(self, event_id: str, session_id: str, now_ms: int, *, played: bool) -> None:
        """The session ended (`played`: by its player, now) or was refused."""
        await self._record(self._left, event_id,
                           [session_id, now_ms, self.idle_ms, "1" if played else "0"])  # fmt: skip

    async def _record(self, script: object, event_id: str, args: list[str | int]) -> None:
        try:
            await script(keys=list(keys.event_keys(event_id)), args=args)  # type: ignore[operator]
        except RedisError as exc:
            self.outage.began(exc)
            return
        if self.outage.down:
            self.outage.over()

    async def watching_now(
        self, event_ids: Sequence[str], now_ms: int, window_ms: int
    ) -> dict[str, int]:
        """Sessions of each event seen within `window_ms`: one ZCOUNT per event, no scan.
        DependencyUnavailable when Redis does not answer."""
        if not event_ids:
            return {}
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for event_id in event_ids:
                    pipe.zcount(keys.event_keys(event_id)[0], now_ms - window_ms, "+inf")
                counts = await pipe.execute()
        except RedisError as exc:
            raise _unavailable() from exc
        return {event_id: int(n) for event_id, n in zip(event_ids, counts, strict=True)}

    async def buckets(self, event_id: str) -> AudienceBuckets:
        """What Redis holds of the event's audience (empty once it expired)."""
        _, minutes, _, viewers = keys.event_keys(event_id)
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hgetall(minutes)
                pipe.hgetall(viewers)
                by_minute, by_viewer = await pipe.execute()
        except RedisError as exc:
            raise _unavailable() from exc
        return parse_buckets(by_minute, by_viewer)


def read_buckets(client: SyncRedis, event_id: str) -> AudienceBuckets:
    """`EventAudience.buckets` for the worker (a synchronous client)."""
    _, minutes, _, viewers = keys.event_keys(event_id)
    with client.pipeline(transaction=False) as pipe:
        pipe.hgetall(minutes)
        pipe.hgetall(viewers)
        by_minute, by_viewer = pipe.execute()
    return parse_buckets(by_minute, by_viewer)


def _unavailable() -> DependencyUnavailable:
    return DependencyUnavailable("Viewing figures are briefly unavailable; try again shortly.",
                                 retry_after=RETRY_AFTER_SECONDS)  # fmt: skip


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
