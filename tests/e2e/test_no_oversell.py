"""No tier sells more than its capacity, under any concurrency: 200 buyers, 50 seats."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from config.settings import Settings
from tests.e2e.test_buying_flow import _shop, ok
from tests.harness import Infrastructure

pytestmark = [pytest.mark.e2e, pytest.mark.stripe, pytest.mark.timeout(180)]
BUYERS, SEATS = 200, 50


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    return infra.settings(order_rate_per_ip=100_000, order_rate_per_email=100_000)


async def _rush(base_url: str, event_id: str, tier_id: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=BUYERS, max_keepalive_connections=BUYERS)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:
        start = asyncio.Event()

        async def buyer(i: int) -> httpx.Response:
            await start.wait()
            return await client.post(
                f"/v1/public/events/{event_id}/orders",
                json={
                    "email": f"buyer{i}@example.org",
                    "items": [{"tier_id": tier_id, "quantity": 1}],
                },
            )

        tasks = [asyncio.create_task(buyer(i)) for i in range(BUYERS)]
        await asyncio.sleep(0.1)
        start.set()
        return await asyncio.gather(*tasks)


def test_exactly_the_capacity_is_sold(live_api: str) -> None:
    with httpx.Client(base_url=live_api, timeout=30) as api:
        staff, event_id, tier_id = _shop(api, capacity=SEATS)
    responses = asyncio.run(_rush(live_api, event_id, tier_id))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: SEATS, 409: BUYERS - SEATS}, statuses
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"sold_out"}
    with httpx.Client(base_url=live_api, timeout=30) as api:
        [tier] = ok(api.get(f"/v1/events/{event_id}/tiers", headers=staff))["data"]
        orders = ok(
            api.get("/v1/orders", params={"event_id": event_id, "limit": 100}, headers=staff)
        )
    assert (tier["held"], tier["sold"], tier["available"]) == (SEATS, 0, 0)
    assert len(orders["data"]) == SEATS
