"""`/me` tasks: mail a performer's sign-in link, tell them their payout details changed."""

from __future__ import annotations

from celery import shared_task

from streamsvc.me import mail
from workers.base import StreamsvcTask
from workers.tasks.mailing import MAIL, send_or_retry


@shared_task(name="me.send_sign_in_link", **MAIL)  # type: ignore[untyped-decorator]
def send_sign_in_link(self: StreamsvcTask, link_id: str) -> None:
    send_or_retry(self, mail.send_sign_in_link, link_id, f"sign-in link {link_id}")


@shared_task(name="me.send_details_changed", **MAIL)  # type: ignore[untyped-decorator]
def send_details_changed(self: StreamsvcTask, performer_id: str) -> None:
    send_or_retry(
        self, mail.send_details_changed, performer_id, f"payout details notice of {performer_id}"
    )
