"""Staff tasks: mail an invitation or a password-reset link (retried until sent)."""

from __future__ import annotations

import logging

from celery import shared_task

from streamsvc.notifications.mail import MailDeliveryError, sender_from_settings
from streamsvc.staff import mail
from workers.base import StreamsvcTask

log = logging.getLogger(__name__)
_RETRY = {
    "base": StreamsvcTask,
    "bind": True,
    "max_retries": 8,
    "acks_late": True,
    "reject_on_worker_lost": True,  # a worker lost mid-send: the mail is sent again later
    "ignore_result": True,
}


def _retry(task: StreamsvcTask, exc: MailDeliveryError, what: str) -> None:
    if exc.permanent:  # the server refused the address: retrying will not help
        log.warning("%s not mailed: %s", what, exc)
        return
    raise task.retry(exc=exc, countdown=min(1800, 30 * 2**task.request.retries)) from exc


@shared_task(name="staff.send_invitation", **_RETRY)  # type: ignore[untyped-decorator]
def send_invitation(self: StreamsvcTask, invitation_id: str) -> None:
    resources = self.resources
    try:
        mail.send_invitation(
            resources.database,
            resources.settings,
            sender_from_settings(resources.settings),
            invitation_id,
            resources.clock.now(),
        )
    except MailDeliveryError as exc:
        _retry(self, exc, f"invitation {invitation_id}")


@shared_task(name="staff.send_password_reset", **_RETRY)  # type: ignore[untyped-decorator]
def send_password_reset(self: StreamsvcTask, reset_id: str) -> None:
    resources = self.resources
    try:
        mail.send_password_reset(
            resources.database,
            resources.settings,
            sender_from_settings(resources.settings),
            reset_id,
            resources.clock.now(),
        )
    except MailDeliveryError as exc:
        _retry(self, exc, f"password reset {reset_id}")
