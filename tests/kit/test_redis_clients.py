"""The Redis client factory: a cluster node's URL keeps what the configured one says."""

from __future__ import annotations

import asyncio

import pytest

from config.settings import Settings
from streamsvc.kit import redis_clients


def test_a_node_url_keeps_the_scheme_credentials_and_options() -> None:
    url = "rediss://app:s3cret@node-a:7000/0?ssl_cert_reqs=required"
    assert redis_clients.node_url(url, "10.0.0.2", 7001) == (
        "rediss://app:s3cret@10.0.0.2:7001/0?ssl_cert_reqs=required"
    )
    assert (
        redis_clients.node_url("redis://node-a:7000", "fd00::2", 7002) == "redis://[fd00::2]:7002"
    )


@pytest.mark.parametrize("cluster", [False, True])
def test_one_flag_makes_every_client_a_cluster_client(cluster: bool) -> None:
    settings = Settings(redis_url="redis://127.0.0.1:1", redis_cluster=cluster,
                        celery_broker_url="amqp://mq//")  # fmt: skip
    # Nothing connects until the first command (the synchronous cluster client learns the
    # slots when built, so it is only built against a running cluster: the cluster tests).
    clients = [redis_clients.async_client(settings, max_connections=4, blocking=True),
               redis_clients.async_client(settings, max_connections=4, blocking=False)]  # fmt: skip
    assert [redis_clients.is_cluster(c) for c in clients] == [cluster, cluster]
    assert (redis_clients.subscriber(settings, clients[0]) is not None) is cluster

    async def close() -> None:
        for client in clients:
            await client.aclose()

    asyncio.run(close())
