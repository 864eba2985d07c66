"""Every Redis client of streamsvc is built here, from the settings: a client of one
Redis server, or with STREAMSVC_REDIS_CLUSTER a Redis Cluster client that finds every
node from STREAMSVC_REDIS_URL naming any one of them.

What a cluster asks of the code that uses these clients (each place says so):
- a command, a Lua script (its KEYS and the keys it builds) and a MULTI/EXEC touch keys
  of one slot only: viewing's keys carry hash tags (viewing/keys.py); other multi-key
  reads are pipelines of one-key commands;
- a pipeline is sent per node: `transaction=False` everywhere, which also means no
  atomicity across its commands, which nobody relies on;
- a script in a pipeline goes as EVAL (`pipelined_script`): the cluster pipeline has no
  EVALSHA, and EVAL never meets a node that has not loaded the script;
- PUBLISH reaches every node of a cluster, so a subscriber listens on one node
  (`NodeSubscriber`) over a plain connection.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from typing import Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster as SyncRedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException

from config.settings import Settings

AsyncRedis: TypeAlias = aioredis.Redis | AsyncRedisCluster
SyncRedis: TypeAlias = redis.Redis | SyncRedisCluster
_SUBSCRIBERS = itertools.count()  # NodeSubscribers made in this process

# Connections of the API's clients: a Redis that does not answer within 2 s is down
# (503 for viewing, limits not enforced elsewhere), never a request hanging.
_API_OPTIONS: dict[str, Any] = {
    "socket_connect_timeout": 2,
    "socket_timeout": 2,
    "health_check_interval": 30,
}


class _AsyncCluster(AsyncRedisCluster):
    """A cluster whose nodes cannot be reached (or that serves no slot map) fails as one
    server that cannot be reached does, with redis-py's ConnectionError: its callers
    answer 503 or go on without Redis, where redis-py's own RedisClusterException (not a
    RedisError) would have been a 500."""

    async def initialize(self, *args: Any, **kwargs: Any) -> _AsyncCluster:
        try:
            await super().initialize(*args, **kwargs)
        except RedisClusterException as exc:
            raise RedisConnectionError(str(exc)) from exc
        return self


def sync_client(settings: Settings, timeout: float = 2) -> SyncRedis:
    """A synchronous client (the message bus's handlers, the worker)."""
    url = settings.require("redis_url")
    if settings.redis_cluster:
        return SyncRedisCluster.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)


def async_client(settings: Settings, *, max_connections: int, blocking: bool) -> AsyncRedis:
    """An asynchronous client of the API. `blocking`: past `max_connections` a command
    waits up to 2 s for a connection instead of failing (on one server; the cluster
    client has no such pool: past `max_connections` to one node it fails at once with a
    ConnectionError, which its callers treat as Redis unreachable)."""
    url = settings.require("redis_url")
    if settings.redis_cluster:
        return _AsyncCluster.from_url(url, max_connections=max_connections, **_API_OPTIONS)
    if blocking:
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=2, **_API_OPTIONS
        )
        return aioredis.Redis(connection_pool=pool)
    return aioredis.Redis.from_url(url, max_connections=max_connections, **_API_OPTIONS)


def is_cluster(client: AsyncRedis | SyncRedis) -> bool:
    return isinstance(client, AsyncRedisCluster | SyncRedisCluster)


def pipelined_script(pipe: Any, source: str, keys: Sequence[str], args: Sequence[object]) -> None:
    """Queue a Lua script in a pipeline (`transaction=False`) of either kind of client.

    As EVAL, not EVALSHA: redis-py's cluster pipeline refuses EVALSHA (and its `eval`
    method is something else), and an EVALSHA of a script some node never loaded would
    fail there. The script's body costs a few hundred bytes per call; pipelined scripts
    are off the hot paths (the console, a pass transfer, a revocation)."""
    pipe.execute_command("EVAL", source, len(keys), *keys, *args)


async def ping(client: AsyncRedis) -> None:
    """Readiness: one server answers, or every node of the cluster does (a node down
    leaves its slots unserved, so the cluster is not ready)."""
    if isinstance(client, AsyncRedisCluster):
        await client.ping(target_nodes=AsyncRedisCluster.ALL_NODES)
    else:
        await client.ping()


class NodeSubscriber:
    """Pub/sub on a Redis Cluster: PUBLISH is broadcast to every node, so one plain
    connection to any node hears every message. Each subscriber starts on a node of its
    own (by its process id and how many came before it in the process, spreading them
    over the nodes) and moves to the next one each time it connects again, so a node
    that failed is left for another."""

    def __init__(self, cluster: AsyncRedisCluster, url: str, options: dict[str, Any]) -> None:
        self.cluster = cluster
        self.url = url
        self.options = options
        self._turn = os.getpid() + next(_SUBSCRIBERS)
        self.node_name = ""  # where the latest connection went (host:port)

    async def connect(self) -> aioredis.Redis:
        """A client of one node, the next in turn; the caller closes it. A cluster that
        cannot be reached at all is a redis-py ConnectionError, as one server's is."""
        try:
            nodes = self.cluster.get_nodes()
            if not nodes:
                await self.cluster.initialize()
                nodes = self.cluster.get_nodes()
        except RedisClusterException as exc:  # not a RedisError: say it as one
            raise RedisConnectionError(str(exc)) from exc
        if not nodes:
            raise RedisConnectionError("the Redis Cluster has no nodes")
        node = sorted(nodes, key=lambda n: n.name)[self._turn % len(nodes)]
        self._turn += 1
        self.node_name = node.name
        return aioredis.Redis.from_url(
            node_url(self.url, node.host, int(node.port)), **self.options
        )


def subscriber(settings: Settings, client: AsyncRedis) -> NodeSubscriber | None:
    """What `ViewingStore.listen` subscribes through: None on one server (the client's
    own pub/sub), a NodeSubscriber on a cluster."""
    if isinstance(client, AsyncRedisCluster):
        return NodeSubscriber(client, settings.require("redis_url"), dict(_API_OPTIONS))
    return None


def node_url(url: str, host: str, port: int) -> str:
    """`url` (its scheme, credentials and options) pointed at another node."""
    parts = urlsplit(url)
    credentials, at, _ = parts.netloc.rpartition("@")
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=f"{credentials}{at}{address}"))
