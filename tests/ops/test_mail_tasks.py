"""Mail tasks: a refused address is given up at once, an unreachable server retried."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest

from config.settings import Settings
from streamsvc.kit.clock import FixedClock
from streamsvc.notifications.mail import MailDeliveryError
from workers.base import StreamsvcTask
from workers.tasks.mailing import send_or_retry


class Retried(Exception):
    def __init__(self, countdown: int) -> None:
        self.countdown = countdown


class TaskStandIn:
    """What send_or_retry uses of a bound Celery task: resources, request, retry."""

    def __init__(self, settings: Settings, clock: FixedClock, retries: int) -> None:
        self.resources = SimpleNamespace(database="db", settings=settings, clock=clock)
        self.request = SimpleNamespace(retries=retries)

    def retry(self, *, exc: Exception, countdown: int) -> Exception:
        return Retried(countdown)


def _failing(permanent: bool) -> Any:
    calls: list[tuple[Any, ...]] = []

    def send(*args: Any) -> bool:
        calls.append(args)
        raise MailDeliveryError("no", permanent=permanent)

    send.calls = calls  # type: ignore[attr-defined]
    return send


def test_a_refused_address_is_not_retried(
    clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings()
    send = _failing(permanent=True)
    task = cast(StreamsvcTask, TaskStandIn(settings, clock, retries=0))
    send_or_retry(task, send, "inv_1", "invitation inv_1")
    [(database, given, _, object_id, now)] = send.calls
    assert (database, given, object_id) == ("db", settings, "inv_1")
    assert isinstance(now, datetime) and now == clock.now()
    assert "invitation inv_1 not mailed" in caplog.text


@pytest.mark.parametrize(("retries", "countdown"), [(0, 30), (3, 240), (8, 1800)])
def test_an_unreachable_server_is_retried_with_a_growing_wait(
    clock: FixedClock, retries: int, countdown: int
) -> None:
    task = cast(StreamsvcTask, TaskStandIn(Settings(), clock, retries=retries))
    with pytest.raises(Retried) as raised:
        send_or_retry(task, _failing(permanent=False), "inv_1", "invitation inv_1")
    assert raised.value.countdown == countdown
