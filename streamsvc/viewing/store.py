"""Viewing state in Redis: sessions, device slots and revocation markers.

Device limits are enforced inside one Lua script per redemption, so two devices
racing for the last slot cannot both win. The scripts touch the session keys of
one ticket, which share its hash tag (keys.py), so they stay within one slot.

Redis unreachable (refused, timed out, no pooled connection free) is a
`DependencyUnavailable` (503 with Retry-After; a media-server hook refuses in its
own protocol), never a 500: the viewer's player tries again. The log says so once
when the outage begins and once when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio.client import PubSub
from redis.exceptions import ClusterError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streamsvc.errors import DependencyUnavailable
from streamsvc.kit.outage import Outage
from streamsvc.kit.redis_clients import (
    AsyncRedis,
    NodeSubscriber,
    SyncRedis,
    is_cluster,
    pipelined_script,
)
from streamsvc.kit.shutdown import settle
from streamsvc.orders.console_service import LiveSession
from streamsvc.orders.models import TicketStatus
from streamsvc.viewing import keys
from streamsvc.viewing.audience import EventAudience

log = logging.getLogger(__name__)
_CACHE_LIMIT = 100_000  # tickets remembered per process, at most
# What an unreachable Redis raises (redis-py's own ConnectionError and TimeoutError,
# not the builtins), and a cluster that lost a node (CLUSTERDOWN, or no node answering
# for a slot): caught as this tuple, at no cost while Redis answers.
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, ClusterError)
RETRY_AFTER_SECONDS = 5

_START = """
local devices, bydev, revoked = KEYS[1], KEYS[2], KEYS[3]
local prefix, device, sid = ARGV[1], ARGV[2], ARGV[3]
local now, idle_ms, maxd = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local policy, ttl, channel, ticket = ARGV[7], tonumber(ARGV[8]), ARGV[9], ARGV[10]
local state = redis.call('GET', revoked)
if state then return {'revoked', state, ''} end
local victim = ''
-- devices that stopped sending heartbeats give their slot back
for _, old in ipairs(redis.call('ZRANGEBYSCORE', devices, '-inf', now - idle_ms)) do
  local dev = redis.call('HGET', prefix .. old, 'device')
  redis.call('ZREM', devices, old)
  redis.call('DEL', prefix .. old)
  if dev and redis.call('HGET', bydev, dev) == old then redis.call('HDEL', bydev, dev) end
end
-- the same device again keeps its slot and its session
local existing = redis.call('HGET', bydev, device)
if existing and redis.call('HGET', prefix .. existing, 'state') == 'active' then
  redis.call('ZADD', devices, now, existing)
  redis.call('EXPIRE', prefix .. existing, ttl)
  redis.call('EXPIRE', devices, ttl)
  redis.call('EXPIRE', bydev, ttl)
  return {'ok', existing, ''}
end
if redis.call('ZCARD', devices) >= maxd then
  if policy ~= 'drop_oldest' then return {'device_limit', '', ''} end
  victim = redis.call('ZPOPMIN', devices)[1]
  local vdev = redis.call('HGET', prefix .. victim, 'device')
  redis.call('HSET', prefix .. victim, 'state', 'replaced')
  redis.call('EXPIRE', prefix .. victim, ttl)
  if vdev and redis.call('HGET', bydev, vdev) == victim then redis.call('HDEL', bydev, vdev) end
  redis.call('PUBLISH', channel, ticket)
end
redis.call('HSET', prefix .. sid, 'device', device, 'state', 'active', 'started', now)
redis.call('EXPIRE', prefix .. sid, ttl)
redis.call('ZADD', devices, now, sid)
redis.call('HSET', bydev, device, sid)
redis.call('EXPIRE', devices, ttl)
redis.call('EXPIRE', bydev, ttl)
return {'ok', sid, victim}
"""

_HEARTBEAT = """
local state = redis.call('GET', KEYS[2])
if state then return state end
local s = redis.call('HGET', KEYS[3], 'state')
if not s then return 'unknown' end
if s ~= 'active' then return s end
redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[2]), ARGV[1])
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[3]))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 'active'
"""

_STATE = """
local marker = redis.call('GET', KEYS[1])
if marker then return marker end
return redis.call('HGET', KEYS[2], 'state') or 'unknown'
"""

# A ticket's sessions that still hold a device slot: (id, last heartbeat, device,
# started) each, flattened, for the console's order page.
_SESSIONS = """
local prefix, since = ARGV[1], tonumber(ARGV[2])
local found = {}
for _, sid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], since, '+inf')) do
  local s = redis.call('HMGET', prefix .. sid, 'device', 'state', 'started')
  if s[2] == 'active' then
    local seen = redis.call('ZSCORE', KEYS[1], sid)
    table.insert(found, sid); table.insert(found, seen)
    table.insert(found, s[1] or ''); table.insert(found, s[3] or seen)
  end
end
return found
"""

# A ticket's status mirrored (the marker set, or cleared for a valid ticket), then its id
# published: one command on the ticket's slot, so a pipeline of them works on a cluster
# (whose pipelines have no PUBLISH), and a listener that hears the id finds the marker.
_MARK = """
if ARGV[1] == '' then redis.call('DEL', KEYS[1])
else redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2])) end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
"""

_END = """
redis.call('ZREM', KEYS[1], ARGV[1])
local dev = redis.call('HGET', KEYS[3], 'device')
if dev and redis.call('HGET', KEYS[2], dev) == ARGV[1] then redis.call('HDEL', KEYS[2], dev) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return redis.call('DEL', KEYS[3])
"""


@dataclass(frozen=True)
class Slot:
    outcome: str  # ok | device_limit | revoked
    session_id: str  # the session (ok), or the revocation state (revoked)
    replaced: str = ""  # the session this one took the place of (drop_oldest), if any


class ViewingStore:
    """Sessions and revocation state of tickets, in Redis (async, for the API)."""

    def __init__(
        self, client: AsyncRedis, idle_seconds: int, cache_seconds: float = 1.0,
        subscriber: NodeSubscriber | None = None,
    ) -> None:  # fmt: skip
        if subscriber is None and is_cluster(client):
            raise ValueError("a Redis Cluster client needs a NodeSubscriber for its changes")
        self.client = client
        # On a cluster the change channel is heard on one node (redis_clients.py).
        self.subscriber = subscriber
        self.idle_seconds = idle_seconds
        self.cache_seconds = cache_seconds
        self._cache: dict[str, dict[str, tuple[str, float]]] = {}
        self._generation = 0
        self._listening = False
        self._stopping = False
        self._start = client.register_script(_START)
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._end = client.register_script(_END)
        self._state = client.register_script(_STATE)
        # The event's side of viewing (its own slot): who watches, and for how long.
        self.audience = EventAudience(client, idle_seconds)
        self.outage = Outage(
            "Redis (viewing sessions)", log,
            "redeem, heartbeat, authorize and the hooks answer 503 until it is back",
        )  # fmt: skip

    def _unavailable(self, exc: Exception) -> DependencyUnavailable:
        self.outage.began(exc)
        return DependencyUnavailable("Viewing is briefly unavailable; try again shortly.",
                                     retry_after=RETRY_AFTER_SECONDS)  # fmt: skip

    async def start_session(
        self, ticket_id: str, device_id: str, new_session_id: str, *, now_ms: int,
        max_devices: int, policy: str,
    ) -> Slot:  # fmt: skip
        devices, by_device, revoked = keys.ticket_keys(ticket_id)
        try:
            outcome, session_id, replaced = await self._start(
                keys=[devices, by_device, revoked],
                args=[keys.session_prefix(ticket_id), device_id, new_session_id, now_ms,
                      self.idle_seconds * 1000, max_devices, policy, self.idle_seconds,
                      keys.CHANGES_CHANNEL, ticket_id],
            )  # fmt: skip
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc
        if self.outage.down:
            self.outage.over()
        return Slot(_text(outcome), _text(session_id), _text(replaced))

    async def heartbeat(self, ticket_id: str, session_id: str, now_ms: int) -> str:
        """active | replaced | revoked | suspended | unknown (expired or lost)."""
        devices, _, revoked = keys.ticket_keys(ticket_id)
        try:
            state = await self._heartbeat(
                keys=[devices, revoked, keys.session_key(ticket_id, session_id)],
                args=[session_id, now_ms, self.idle_seconds],
            )
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc
        if self.outage.down:
            self.outage.over()
        return _text(state)

    async def end_session(self, ticket_id: str, session_id: str) -> bool:
        devices, by_device, _ = keys.ticket_keys(ticket_id)
        try:
            removed = await self._end(
                keys=[devices, by_device, keys.session_key(ticket_id, session_id)],
                args=[session_id, keys.CHANGES_CHANNEL, ticket_id],
            )
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc
        if self.outage.down:
            self.outage.over()
        return bool(removed)

    async def ticket_sessions(
        self, ticket_ids: Sequence[str], now_ms: int
    ) -> dict[str, list[LiveSession]]:
        """Each ticket's sessions that still hold a device slot, the latest seen first: one
        script per ticket (its own slot), pipelined. 503 when Redis does not answer."""
        since = now_ms - self.idle_seconds * 1000
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for ticket_id in ticket_ids:
                    pipelined_script(pipe, _SESSIONS, [keys.ticket_keys(ticket_id)[0]],
                                     [keys.session_prefix(ticket_id), since])  # fmt: skip
                answers = await pipe.execute()
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc
        found: dict[str, list[LiveSession]] = {}
        for ticket_id, flat in zip(ticket_ids, answers, strict=True):
            values = [_text(value) for value in flat]
            sessions = [
                LiveSession(session_id=values[i], device=values[i + 2],
                            started_at=_moment(values[i + 3]), last_seen_at=_moment(values[i + 1]))
                for i in range(0, len(values), 4)
            ]  # fmt: skip
            found[ticket_id] = sorted(sessions, key=lambda s: s.last_seen_at, reverse=True)
        return found

    async def session_state(self, ticket_id: str, session_id: str) -> str:
        """The authorize check: at most one round trip (one script reading two keys of
        one slot); an active session seen within `cache_seconds` is answered from
        memory, for as long as the change channel is heard."""
        cached = self._cache.get(ticket_id)
        if cached is not None and self._listening:
            hit = cached.get(session_id)
            if hit is not None and hit[1] > time.monotonic():
                return hit[0]
        generation = self._generation
        _, _, revoked = keys.ticket_keys(ticket_id)
        try:
            state = _text(
                await self._state(keys=[revoked, keys.session_key(ticket_id, session_id)])
            )
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc
        if self.outage.down:
            self.outage.over()
        # Remember only what allows, and only if no change arrived meanwhile.
        if (
            state == "active"
            and self.cache_seconds > 0
            and self._listening
            and self._generation == generation
        ):
            if len(self._cache) > _CACHE_LIMIT:
                self._cache.clear()
            self._cache.setdefault(ticket_id, {})[session_id] = (
                state,
                time.monotonic() + self.cache_seconds,
            )
        return state

    def forget(self, ticket_id: str) -> None:
        """Something changed for this ticket: ask Redis next time."""
        self._generation += 1  # a read in flight now must not remember what it saw
        self._cache.pop(ticket_id, None)

    def stop(self) -> None:
        """Ask `listen` to end: it does at its next wake, even if a cancellation of it
        was turned into a Redis error on its way through the client."""
        self._stopping = True

    async def listen(self) -> None:
        """Hear the change channel until cancelled or stopped; remember nothing while
        deaf. Trying again every second while Redis is away, it says so once, not every
        second."""
        deaf = False
        while not self._stopping:
            try:
                async with self._subscription() as pubsub:
                    self._listening = True
                    if deaf:
                        deaf = False
                        log.warning("viewing change channel heard again")
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self.forget(_text(message["data"]))
            except asyncio.CancelledError:
                raise
            except RedisError:
                task = asyncio.current_task()
                if self._stopping or (task is not None and task.cancelling()):
                    # A cancellation that reached the read as a timeout is still one.
                    raise asyncio.CancelledError from None
                if not deaf:
                    deaf = True
                    log.warning("viewing change channel lost; answering from Redis only")
            if not self._stopping:
                await asyncio.sleep(1)

    @asynccontextmanager
    async def _subscription(self) -> AsyncIterator[PubSub]:
        """The change channel, subscribed through the client's own connection, or on a
        cluster through one node (every PUBLISH reaches every node; another node is
        tried after a failure: redis_clients.NodeSubscriber)."""
        node = await self.subscriber.connect() if self.subscriber is not None else None
        pubsub = (node if node is not None else self.client).pubsub()
        try:
            await pubsub.subscribe(keys.CHANGES_CHANNEL)
            yield pubsub
        finally:
            # Deaf from here on: remember nothing that a message could have undone.
            self._listening = False
            self._cache.clear()
            await settle(pubsub.aclose(), 1)  # type: ignore[no-untyped-call]
            if node is not None:
                await settle(node.aclose(), 1)


def mark_tickets(client: SyncRedis, statuses: dict[str, str], marker_ttl: int) -> None:
    """Mirror ticket statuses from PostgreSQL: revoked and suspended tickets are refused
    at once by heartbeat and authorize; a valid one (a dispute won) is let back in. One
    script per ticket (its slot), pipelined without a transaction: each ticket's marker
    stands on its own, and on a cluster the tickets' slots are on several nodes."""
    if not statuses:
        return
    with client.pipeline(transaction=False) as pipe:
        for ticket_id, status in statuses.items():
            _, _, revoked = keys.ticket_keys(ticket_id)
            refused = status in (TicketStatus.revoked, TicketStatus.suspended)
            pipelined_script(pipe, _MARK, [revoked],
                             [status if refused else "", marker_ttl, keys.CHANGES_CHANNEL,
                              ticket_id])  # fmt: skip
        pipe.execute()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _moment(ms: str) -> datetime:
    return datetime.fromtimestamp(int(float(ms)) / 1000, UTC)
