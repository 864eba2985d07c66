"""scripts/first-steps.sh, the README's first steps, run as a newcomer would paste it:
against the served API, localstripe (its signed webhook), and a real Celery worker."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from config.settings import Settings
from tests.factories import bearer
from tests.harness import TEST_WEBHOOK_SECRET, Infrastructure, WorkerProcess
from tests.stripe_helpers import register_webhook, unregister_webhook

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.stripe, pytest.mark.timeout(180)]

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "first-steps.sh"
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def api(live_api: str, localstripe: str, worker: WorkerProcess) -> Iterator[str]:
    name = f"first-steps-{uuid.uuid4().hex[:8]}"
    url = f"{live_api}/v1/stripe/webhook"
    register_webhook(localstripe, url, TEST_WEBHOOK_SECRET, name=name)
    yield live_api
    unregister_webhook(localstripe, url, name=name)


def test_the_first_steps_script_ends_paid_and_watching(
    api: str, localstripe: str, settings: Settings, infra: Infrastructure
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMSVC_")}
    env |= {"API": api, "LOCALSTRIPE": localstripe,
            "STREAMSVC_PLATFORM_KEY": settings.platform_key.get_secret_value()}  # fmt: skip
    run = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True,
                         timeout=150, check=False)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    last = run.stdout.strip().splitlines()[-1]
    found = re.fullmatch(r"done: order (ord_\S+) paid, watching with viewing token (v1\.\S+)", last)
    assert found, run.stdout
    order_id = found.group(1)
    key = re.search(r"admin key (\S+)", run.stdout)
    assert key, run.stdout
    # What the script says, the service confirms: the order is paid, two tickets valid.
    with httpx.Client(base_url=api, timeout=10) as client:
        order = client.get(f"/v1/orders/{order_id}", headers=bearer(key.group(1))).json()
    assert order["status"] == "paid" and order["paid_amount"] == 3900, order
    assert [t["status"] for t in order["tickets"]] == ["valid", "valid"]
    assert "authorize /live/" in run.stdout and ": 204" in run.stdout


def test_the_readme_shows_the_script() -> None:
    readme = README.read_text(encoding="utf-8")
    script = SCRIPT.read_text(encoding="utf-8")
    assert "scripts/first-steps.sh" in readme
    # The README's copy is the script itself, so the two cannot drift apart.
    assert script in readme
