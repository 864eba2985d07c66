"""Staff tasks: mail an invitation or a password-reset link (retried until sent)."""

from __future__ import annotations

from celery import shared_task

from streamsvc.staff import mail
from workers.base import StreamsvcTask
from workers.tasks.mailing import MAIL, send_or_retry


@shared_task(name="staff.send_invitation", **MAIL)  # type: ignore[untyped-decorator]
def send_invitation(self: StreamsvcTask, invitation_id: str) -> None:
    send_or_retry(self, mail.send_invitation, invitation_id, f"invitation {invitation_id}")


@shared_task(name="staff.send_password_reset", **MAIL)  # type: ignore[untyped-decorator]
def send_password_reset(self: StreamsvcTask, reset_id: str) -> None:
    send_or_retry(self, mail.send_password_reset, reset_id, f"password reset {reset_id}")
