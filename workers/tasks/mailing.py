"""What every mail task shares: its options and sending with retry.

A mail task takes the id of what it mails about; the domain's send function sends it
at most once (it marks what it sent under a row lock), so a redelivered or retried task
mails nothing twice. A refused address is permanent: logged, never retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.notifications.mail import MailDeliveryError, MailSender, sender_from_settings
from workers.base import StreamsvcTask

log = logging.getLogger(__name__)

MAIL: dict[str, Any] = {
    "base": StreamsvcTask,
    "bind": True,
    "max_retries": 8,
    "acks_late": True,
    "reject_on_worker_lost": True,  # a worker lost mid-send: the mail is sent again later
    "ignore_result": True,
}

Send = Callable[[Database, Settings, MailSender, str, datetime], object]


def send_or_retry(task: StreamsvcTask, send: Send, object_id: str, what: str) -> None:
    """`send(database, settings, sender, object_id, now)`; retried with backoff (30 s
    doubling, at most 30 minutes) while the mail server is unreachable."""
    resources = task.resources
    settings = resources.settings
    try:
        send(resources.database, settings, sender_from_settings(settings), object_id,
             resources.clock.now())  # fmt: skip
    except MailDeliveryError as exc:
        if exc.permanent:  # the server refused the address: retrying will not help
            log.warning("%s not mailed: %s", what, exc)
            return
        raise task.retry(exc=exc, countdown=min(1800, 30 * 2**task.request.retries)) from exc
