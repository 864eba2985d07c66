"""The mails of `/me`: the sign-in link, and the notice that payout details changed.

Sent by the worker (`me.send_sign_in_link`, `me.send_details_changed`) after the
commit, through the notifications' sender, in the language of the page the person
used. A used or expired link is not mailed (its token is derived again: signin.py).
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from zoneinfo import ZoneInfo

from babel.dates import format_datetime as babel_datetime

from config.settings import Settings
from streamsvc.catalog.models import Performer
from streamsvc.db import Database
from streamsvc.me import signin
from streamsvc.me.models import PerformerSignInLink
from streamsvc.notifications.mail import MailSender
from streamsvc.payouts import details as payout_details
from streamsvc.venues.models import Venue

_PHRASES = {
    "en": {
        "link_subject": "Your sign-in link for your statements",
        "link_body": (
            "Hello,\n\nUse this link to see your statements, payout advices and payout "
            "details (it works once, for {minutes} minutes):\n\n{link}\n\n"
            "If you did not ask for it, ignore this mail: nobody can sign in without it.\n"
        ),
        "changed_subject": "Your payout details at {venue} were changed",
        "changed_body": (
            "Hello {name},\n\nThe payout details {venue} pays you to were changed on {when} "
            "to the account {account}.\nYour next payment waits until the venue's finance "
            "staff have confirmed the change.\n\nIf you did not make this change, tell "
            "{venue} at once.\n"
        ),
    },
    "nl": {
        "link_subject": "Je aanmeldlink voor je afrekeningen",
        "link_body": (
            "Hallo,\n\nMet deze link zie je je afrekeningen, betaaladviezen en "
            "uitbetalingsgegevens (eenmalig, {minutes} minuten geldig):\n\n{link}\n\n"
            "Vroeg je er niet om? Negeer deze mail dan: zonder de link kan niemand inloggen.\n"
        ),
        "changed_subject": "Je uitbetalingsgegevens bij {venue} zijn gewijzigd",
        "changed_body": (
            "Hallo {name},\n\nDe gegevens waarop {venue} je uitbetaalt, zijn op {when} "
            "gewijzigd naar de rekening {account}.\nJe volgende betaling wacht tot de "
            "financiële medewerkers van {venue} de wijziging hebben bevestigd.\n\n"
            "Heb je dit niet zelf gewijzigd? Laat het {venue} meteen weten.\n"
        ),
    },
    "fr": {
        "link_subject": "Votre lien de connexion pour vos relevés",
        "link_body": (
            "Bonjour,\n\nCe lien vous donne accès à vos relevés, avis de paiement et "
            "coordonnées bancaires (une seule fois, pendant {minutes} minutes) :\n\n"
            "{link}\n\nSi vous ne l'avez pas demandé, ignorez ce message : personne ne "
            "peut se connecter sans ce lien.\n"
        ),
        "changed_subject": "Vos coordonnées bancaires chez {venue} ont été modifiées",
        "changed_body": (
            "Bonjour {name},\n\nLes coordonnées bancaires sur lesquelles {venue} vous "
            "paie ont été modifiées le {when} vers le compte {account}.\nVotre prochain "
            "paiement attend que l'équipe financière de {venue} confirme la "
            "modification.\n\nSi vous n'avez pas fait cette modification, prévenez "
            "{venue} immédiatement.\n"
        ),
    },
}


def language_of(code: str) -> str:
    return code if code in _PHRASES else "en"


def _message(
    settings: Settings, to: str, subject: str, body: str, *, language: str, now: datetime
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())
    message["From"] = settings.mail_from
    message["To"] = to
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("me")
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = language
    message.set_content(body, cte="quoted-printable")
    return message


def send_sign_in_link(
    database: Database, settings: Settings, sender: MailSender, link_id: str, now: datetime
) -> bool:
    """Mail an open sign-in link; False when it is gone, used or expired."""
    with database.unit_of_work() as uow:
        link = uow.session.get(PerformerSignInLink, link_id)
        if link is None or not signin.is_open(link, now):
            return False
        url = signin.link_url(settings, link)
        if url is None:
            return False
        language = language_of(link.language)
        to = link.email
    phrases = _PHRASES[language]
    body = phrases["link_body"].format(link=url, minutes=settings.performer_link_minutes)
    sender.send(_message(settings, to, phrases["link_subject"], body, language=language, now=now))
    return True


def _venue_language(venue: Venue) -> str:
    if venue.country in ("NL", "SR"):
        return "nl"
    return "fr" if venue.country in ("FR", "LU", "MC") else "en"


def send_details_changed(
    database: Database, settings: Settings, sender: MailSender, performer_id: str, now: datetime
) -> bool:
    """Tell the performer's address on record that their payout details changed, naming
    the details as they are now (masked) and when they were changed."""
    with database.unit_of_work() as uow:
        performer = uow.session.get(Performer, performer_id)
        venue = uow.session.get(Venue, performer.venue_id) if performer else None
        if performer is None or venue is None:
            return False
        found = payout_details.details_of(uow.session, venue.id, "performer", performer.id)
        if found is None:
            return False
        language = _venue_language(venue)
        when = babel_datetime(
            found.changed_at, "long", tzinfo=ZoneInfo(venue.timezone), locale=language
        )
        to, account = performer.email, payout_details.mask(found.iban)
        name, venue_name = performer.name, venue.name
    phrases = _PHRASES[language]
    body = phrases["changed_body"].format(name=name, venue=venue_name, when=when, account=account)
    subject = phrases["changed_subject"].format(venue=venue_name)
    sender.send(_message(settings, to, subject, body, language=language, now=now))
    return True
