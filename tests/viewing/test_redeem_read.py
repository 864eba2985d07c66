"""A redeem reads its ticket with one statement on the event loop (streamsvc/db_reads.py):
outside a transaction, from a pool that does not ping. A connection cut while it lay in
the pool costs a retry, never an error; PostgreSQL away is a 503, never a 500; and
what the read answers is what the contract says (404, 403 revoked, device limit)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.db_reads import APPLICATION_NAME, ReadPool, ReadsUnavailable
from streamsvc.embedded import free_port
from streamsvc.kit.clock import FixedClock
from tests.conftest import RecordingQueue
from tests.orders import scenarios as s
from tests.viewing.conftest import Show
from tests.viewing.test_viewing import _doors_open

DOWN = "PostgreSQL (single reads) unreachable"


def _cut_pooled_reads(show: Show) -> int:
    """Terminate the read pool's connections to this run's database, as a PostgreSQL
    restart would: how many there were."""
    with show.database.engine.connect() as conn:
        cut = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = :name"
        ), {"name": APPLICATION_NAME}).scalar_one()  # fmt: skip
    return int(cut)


def test_a_redeem_after_its_pooled_connection_was_cut_is_answered(show: Show) -> None:
    _, [code] = show.paid_tickets("hd")
    _doors_open(show)
    assert show.redeem(code, "tv").status_code == 201
    assert _cut_pooled_reads(show) >= 1  # the redeem's read left its connection pooled
    again = show.redeem(code, "tv")
    assert again.status_code == 201, again.text  # retried once on a new connection
    assert show.redeem(code, "phone").status_code == 201


@pytest.fixture
def database_down(settings: Settings, clock: FixedClock) -> Iterator[TestClient]:
    """The API of a process whose PostgreSQL refuses every connection."""
    url = f"postgresql://streamsvc@127.0.0.1:{free_port()}/streamsvc"
    app = create_app(settings.model_copy(update={"database_url": url}), clock,
                     queue=RecordingQueue())  # fmt: skip
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_redeem_answers_503_while_postgresql_is_unreachable(
    database_down: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        response = database_down.post("/v1/tickets/tkt_code_of_a_ticket/sessions",
                                      json={"device_id": "tv"})  # fmt: skip
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "dependency_unavailable"
        assert int(response.headers["Retry-After"]) > 0
    said = [r for r in caplog.records if DOWN in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in said]  # once per outage, not per request


def test_the_read_answers_the_contract(show: Show) -> None:
    unknown = show.redeem("no_such_code_0000000000", "tv")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    order, [code, other] = show.paid_tickets("swap", quantity=2)  # 1 device, newest wins
    _, [limited] = show.paid_tickets("hd")  # 2 devices, refuse
    _doors_open(show)
    first = show.redeem(code, "tv").json()
    assert show.redeem(code, "phone").status_code == 201  # drop_oldest, read from the tier
    assert show.authorize(first["token"]).json()["error"]["code"] == "session_replaced"
    assert show.redeem(limited, "tv").status_code == 201
    assert show.redeem(limited, "phone").status_code == 201
    third = show.redeem(limited, "laptop")
    assert third.status_code == 403 and third.json()["error"]["code"] == "device_limit"
    assert third.json()["error"]["max_devices"] == 2  # the tier's figure, as read
    s.deliver(show.client, s.charge_refunded(order, [("re_all", order["total_amount"])]))
    show.drain()
    refunded = show.redeem(other, "tv")  # never redeemed before: only PostgreSQL knows
    assert refunded.status_code == 403 and refunded.json()["error"]["code"] == "revoked"


def test_a_statement_error_is_not_an_outage(settings: Settings) -> None:
    async def run() -> Any:
        reads = ReadPool(settings.require("database_url"), size=1)
        try:
            with pytest.raises(psycopg.errors.UndefinedTable):
                await reads.fetch_one("SELECT 1 FROM no_such_table", {})
            assert not reads.outage.down
            return await reads.fetch_one("SELECT %(n)s::int", {"n": 7})  # a new connection
        finally:
            await reads.close()

    assert asyncio.run(run()) == (7,)


def test_a_read_waits_for_a_free_connection_and_not_forever(settings: Settings) -> None:
    async def run() -> None:
        reads = ReadPool(settings.require("database_url"), size=1, wait_seconds=0.2)
        try:
            slow = asyncio.create_task(reads.fetch_one("SELECT pg_sleep(1)", {}))
            await asyncio.sleep(0.05)  # the one connection is taken
            with pytest.raises(ReadsUnavailable):
                await reads.fetch_one("SELECT 1", {})
            await slow
            assert await reads.fetch_one("SELECT 1", {}) == (1,)  # free again
        finally:
            await reads.close()

    asyncio.run(run())
