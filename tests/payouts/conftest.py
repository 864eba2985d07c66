"""Payout tests: the operator's account is set (the SEPA debtor), and finance tests buy
many orders from one address, so the order rate limits are lifted."""

from __future__ import annotations

import pytest

from config.settings import Settings
from tests.harness import Infrastructure

OPERATOR = {"operator_name": "Stichting Streamsvc Operator", "operator_iban": "NL02ABNA0123456789",
            "operator_bic": "ABNANL2A"}  # fmt: skip


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None) -> Settings:
    return infra.settings().model_copy(
        update={"order_rate_per_ip": 100_000, "order_rate_per_email": 100_000, **OPERATOR}
    )
