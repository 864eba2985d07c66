"""The staff's mails: an invitation to a venue's console, a password-reset link.

Sent by the worker (`staff.send_invitation`, `staff.send_password_reset`) after the
commit that created the link, through the notifications' sender (SMTP, or the outbox
directory in development). The link's token is derived again from the row's id
(links.py); a used or expired link is not mailed.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.notifications.mail import MailSender
from streamsvc.staff import links
from streamsvc.staff.models import Invitation, PasswordReset, Person
from streamsvc.venues.models import Venue

_PHRASES = {
    "en": {
        "invite_subject": "You are invited to the console of {venue}",
        "invite_body": (
            "Hello {name},\n\nYou are invited to work on {venue} in the streamsvc console.\n"
            "Choose your password with this link (it works once, for 72 hours):\n\n{link}\n\n"
            "If you did not expect this mail, ignore it.\n"
        ),
        "reset_subject": "A new password for the streamsvc console",
        "reset_body": (
            "Hello {name},\n\nSomeone (hopefully you) asked for a new password for the console.\n"
            "Choose it with this link (it works once, for one hour):\n\n{link}\n\n"
            "If you did not ask for it, ignore this mail: your password stays as it is.\n"
        ),
    },
    "nl": {
        "invite_subject": "Je bent uitgenodigd voor de console van {venue}",
        "invite_body": (
            "Hallo {name},\n\nJe bent uitgenodigd om in de streamsvc-console voor {venue} "
            "te werken.\n"
            "Kies je wachtwoord met deze link (eenmalig, 72 uur geldig):\n\n{link}\n\n"
            "Verwachtte je deze mail niet? Dan kun je hem negeren.\n"
        ),
        "reset_subject": "Een nieuw wachtwoord voor de streamsvc-console",
        "reset_body": (
            "Hallo {name},\n\nIemand (hopelijk jij) vroeg een nieuw wachtwoord voor de console.\n"
            "Kies het met deze link (eenmalig, een uur geldig):\n\n{link}\n\n"
            "Vroeg je er niet om? Negeer deze mail dan: je wachtwoord blijft zoals het is.\n"
        ),
    },
}


def _language(venue: Venue | None) -> str:
    return "nl" if venue is not None and venue.country in ("NL", "BE", "SR") else "en"


def _message(
    settings: Settings, to: str, subject: str, body: str, *, language: str, now: datetime
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())
    message["From"] = settings.mail_from
    message["To"] = to
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("staff")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body, cte="quoted-printable")
    message["Content-Language"] = language
    return message


def send_invitation(
    database: Database, settings: Settings, sender: MailSender, invitation_id: str, now: datetime
) -> bool:
    """Mail an open invitation; False when it is gone, used or expired."""
    with database.unit_of_work() as uow:
        invitation = uow.session.get(Invitation, invitation_id)
        if invitation is None or invitation.used_at is not None or now >= invitation.expires_at:
            return False
        person = uow.session.get(Person, invitation.person_id)
        venue = uow.session.get(Venue, invitation.venue_id)
        token = links.recover(settings, links.INVITATION, invitation.id, invitation.token_hash)
        if person is None or venue is None or token is None:
            return False
        language = _language(venue)
        phrases = _PHRASES[language]
        link = links.link(settings, links.INVITATION_PATH, token)
        body = phrases["invite_body"].format(name=person.display_name, venue=venue.name, link=link)
        subject = phrases["invite_subject"].format(venue=venue.name)
        to = person.email
    sender.send(_message(settings, to, subject, body, language=language, now=now))
    return True


def send_password_reset(
    database: Database, settings: Settings, sender: MailSender, reset_id: str, now: datetime
) -> bool:
    with database.unit_of_work() as uow:
        reset = uow.session.get(PasswordReset, reset_id)
        if reset is None or reset.used_at is not None or now >= reset.expires_at:
            return False
        person = uow.session.get(Person, reset.person_id)
        token = links.recover(settings, links.PASSWORD_RESET, reset.id, reset.token_hash)
        if person is None or token is None:
            return False
        phrases = _PHRASES["en"]
        link = links.link(settings, links.PASSWORD_RESET_PATH, token)
        body = phrases["reset_body"].format(name=person.display_name, link=link)
        to = person.email
    sender.send(_message(settings, to, phrases["reset_subject"], body, language="en", now=now))
    return True
