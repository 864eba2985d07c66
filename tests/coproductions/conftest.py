"""Finance tests buy hundreds of orders from one address: lift the order rate limits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.kit.clock import FixedClock
from tests.conftest import RecordingQueue


@pytest.fixture
def client(settings: Settings, clock: FixedClock, queue: RecordingQueue) -> Iterator[TestClient]:
    lifted = settings.model_copy(update={"order_rate_per_ip": 100_000,
                                         "order_rate_per_email": 100_000})  # fmt: skip
    with TestClient(create_app(lifted, clock, queue=queue), raise_server_exceptions=False) as c:
        yield c
