"""Ticket mails: rendered in Dutch or English, sent over SMTP or written to an outbox.

Nothing is built at import. A worker builds its sender once with `sender_from_settings`
and passes it in; `MailDeliveryError` tells a Celery task that it may retry.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime as format_datetime_babel
from babel.dates import format_time

from streamsvc.kit.clock import Clock, SystemClock
from streamsvc.web.documents import render_document
from streamsvc.web.i18n import negotiate

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)

Locale = Literal["nl", "en", "fr"]
DEFAULT_LOCALE: Locale = "en"
SUPPORTED_LOCALES: tuple[Locale, ...] = ("nl", "en", "fr")


def choose_locale(accept_language: str | None) -> Locale:
    """The best of nl/en/fr for an HTTP Accept-Language header (RFC 9110), as the pages
    choose (streamsvc/web/i18n.py); "en" by default. Never raises."""
    chosen = negotiate(accept_language, SUPPORTED_LOCALES, DEFAULT_LOCALE)
    return next(locale for locale in SUPPORTED_LOCALES if locale == chosen)


def mail_locale(stored: str | None) -> Locale:
    """An order's stored locale as a mail's: a language of ours, else the default."""
    return next((locale for locale in SUPPORTED_LOCALES if locale == stored), DEFAULT_LOCALE)


@dataclass(frozen=True)
class TicketLine:
    """One ticket in a mail: its code and the name of its tier."""

    code: str
    tier_name: str
    ticket_id: str = ""  # the watch page's path names the ticket; the code is its secret
    # A seat ticket's QR code of its code (PNG, from orders/seats.py), shown at the door;
    # None for a ticket that only plays the stream.
    qr_png: bytes | None = None


@dataclass(frozen=True)
class TicketMail:
    """Everything a ticket mail shows; built by the caller from the paid order."""

    to: str
    locale: Locale
    order_id: str
    event_title: str
    venue_name: str
    starts_at: datetime  # timezone-aware
    timezone: str  # IANA name, e.g. Europe/Amsterdam
    doors_open_minutes: int
    tickets: list[TicketLine]
    watch_url: str  # a template with `{code}` (and `{ticket_id}`)
    # The order page with the order token in its fragment (orders/links.py); None when
    # the token cannot be recovered.
    order_url: str | None = None

    def __post_init__(self) -> None:
        if self.starts_at.tzinfo is None or self.starts_at.utcoffset() is None:
            raise ValueError("TicketMail.starts_at must be timezone-aware")
        if "{code}" not in self.watch_url:
            raise ValueError("TicketMail.watch_url must contain `{code}`")
        if self.locale not in SUPPORTED_LOCALES:
            raise ValueError(f"TicketMail.locale must be one of {SUPPORTED_LOCALES}")


def _one_line(value: str) -> str:
    """Collapse whitespace (and line breaks, which headers refuse) into single spaces."""
    return " ".join(value.split())


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: e.g. a name too long
        # A mail with the time in UTC (and saying so) beats no mail at all.
        log.warning("unknown timezone %r in a ticket mail; showing UTC", name[:64])
        return UTC


def _when(moment: datetime, locale: Locale) -> str:
    """In the locale's words (Babel, CLDR): "maandag 1 maart 2027, 20:00 CET"."""
    day = format_datetime_babel(moment, "EEEE d MMMM y, HH:mm", tzinfo=moment.tzinfo,
                                locale=locale)  # fmt: skip
    return f"{day} {moment.tzname() or ''}".rstrip()


def watch_link(template: str, code: str, ticket_id: str = "") -> str:
    """The personal watch link of one ticket: `/watch/{ticket_id}#code={code}` by default
    (STREAMSVC_WATCH_URL), the code in the fragment, which browsers never send."""
    return template.format(code=quote(code, safe=""), ticket_id=quote(ticket_id, safe=""))


def _message_id_domain(sender: str) -> str:
    # Not socket.getfqdn(): that can block on DNS and leaks the worker's host name.
    _, address = parseaddr(sender)
    domain = address.rpartition("@")[2].strip()
    return domain if domain and "@" in address else "streamsvc.localhost"


def render_ticket_mail(
    mail: TicketMail, sender: str, *, now: datetime | None = None
) -> EmailMessage:
    """The ticket mail: plain text plus an HTML alternative, in the mail's locale, from
    the pages' templates and catalogs (documents/ticket_mail.{txt,html})."""
    zone = _zone(mail.timezone)
    zone_label = mail.timezone if zone is not UTC else "UTC"
    local_start = mail.starts_at.astimezone(zone)
    starts = f"{_when(local_start, mail.locale)} ({zone_label})"
    doors = None
    if mail.doors_open_minutes > 0:
        doors_at = (mail.starts_at - timedelta(minutes=mail.doors_open_minutes)).astimezone(zone)
        doors = (
            format_time(doors_at, "HH:mm", tzinfo=doors_at.tzinfo, locale=mail.locale)
            if doors_at.date() == local_start.date()
            else _when(doors_at, mail.locale)
        )
    title = _one_line(mail.event_title)
    count = len(mail.tickets)
    domain = _message_id_domain(sender)
    # Seat tickets' QR codes travel as related image parts, named by Content-ID: many
    # mail clients block data: URIs, and a URL would carry the code to a server.
    cids = [make_msgid("qr", domain=domain) if line.qr_png else None for line in mail.tickets]
    subject = render_document(
        "ticket_mail_subject.txt", mail.locale, {"count": count, "title": title}
    ).strip()
    context = {
        "subject": subject,
        "title": title,
        "venue": _one_line(mail.venue_name),
        "starts": starts,
        "doors": doors,
        "tickets": [
            {
                "tier": _one_line(line.tier_name),
                "code": line.code,
                "link": watch_link(mail.watch_url, line.code, line.ticket_id),
                "qr_cid": cid[1:-1] if cid else None,
            }
            for line, cid in zip(mail.tickets, cids, strict=True)
        ],
        "order_id": mail.order_id,
        "order_url": mail.order_url,
    }
    text = render_document("ticket_mail.txt", mail.locale, context)
    body = render_document("ticket_mail.html", mail.locale, context)

    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = mail.to.strip()
    message["Date"] = format_datetime((now or datetime.now(UTC)).astimezone(UTC))
    message["Message-ID"] = make_msgid("ticket", domain=domain)
    # RFC 3834: a machine-sent mail; vacation responders should not answer it.
    message["Auto-Submitted"] = "auto-generated"
    # Quoted-printable keeps an outbox .eml readable in a text editor.
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(body, subtype="html", cte="quoted-printable")
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    for line, cid in zip(mail.tickets, cids, strict=True):
        if line.qr_png and cid:
            html.add_related(line.qr_png, maintype="image", subtype="png", cid=cid,
                             filename=f"ticket-{line.ticket_id or 'qr'}.png",
                             disposition="inline")  # fmt: skip
    message["Content-Language"] = mail.locale  # after set_content, which drops Content-*
    return message


@dataclass(frozen=True)
class RescheduleMail:
    """The mail to a buyer of an event that moved: the new time, the old one, and (while
    money is left to return) until when the order page refunds the order on request."""

    to: str
    locale: Locale
    order_id: str
    event_title: str
    venue_name: str
    starts_at: datetime  # the new start, timezone-aware
    previous_starts_at: datetime
    timezone: str
    refund_until: datetime | None  # None: nothing to refund (a free order)
    order_url: str | None  # the order page, its token in the fragment

    def __post_init__(self) -> None:
        for moment in (self.starts_at, self.previous_starts_at, self.refund_until):
            if moment is not None and moment.utcoffset() is None:
                raise ValueError("RescheduleMail times must be timezone-aware")
        if self.locale not in SUPPORTED_LOCALES:
            raise ValueError(f"RescheduleMail.locale must be one of {SUPPORTED_LOCALES}")


def render_reschedule_mail(
    mail: RescheduleMail, sender: str, *, now: datetime | None = None
) -> EmailMessage:
    """The reschedule mail, text and HTML, in the buyer's language
    (documents/reschedule_mail.{txt,html})."""
    zone = _zone(mail.timezone)
    zone_label = mail.timezone if zone is not UTC else "UTC"

    def when(moment: datetime) -> str:
        return f"{_when(moment.astimezone(zone), mail.locale)} ({zone_label})"

    title = _one_line(mail.event_title)
    subject = render_document("reschedule_mail_subject.txt", mail.locale, {"title": title}).strip()
    context = {
        "subject": subject,
        "title": title,
        "venue": _one_line(mail.venue_name),
        "starts": when(mail.starts_at),
        "previous": when(mail.previous_starts_at),
        "refund_until": when(mail.refund_until) if mail.refund_until else None,
        "order_id": mail.order_id,
        "order_url": mail.order_url,
    }
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = mail.to.strip()
    message["Date"] = format_datetime((now or datetime.now(UTC)).astimezone(UTC))
    message["Message-ID"] = make_msgid("reschedule", domain=_message_id_domain(sender))
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        render_document("reschedule_mail.txt", mail.locale, context), cte="quoted-printable"
    )
    message.add_alternative(
        render_document("reschedule_mail.html", mail.locale, context), subtype="html",
        cte="quoted-printable",
    )  # fmt: skip
    message["Content-Language"] = mail.locale
    return message


class MailDeliveryError(Exception):
    """A mail could not be handed over. `permanent` is True when the server refused it
    with a 5xx reply (retrying the same mail will not help); otherwise a retry may."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class MailSender(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Hand the message over for delivery, or raise MailDeliveryError.

        Returns once the SMTP server (or the outbox) has accepted it; says nothing about
        the recipient's mailbox. Safe to call from several threads with separate messages.
        """
        ...


class SmtpSender:
    """Sends over SMTP: plain, STARTTLS or implicit TLS; logs in only with a username."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        use_ssl: bool = False,
        timeout: float = 10,
    ) -> None:
        if starttls and use_ssl:
            raise ValueError("choose one of STARTTLS and implicit TLS (SSL), not both")
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.starttls = starttls
        self.use_ssl = use_ssl
        self.timeout = timeout

    def __repr__(self) -> str:
        return (
            f"SmtpSender(host={self.host!r}, port={self.port}, username={self.username!r}, "
            f"starttls={self.starttls}, use_ssl={self.use_ssl}, timeout={self.timeout})"
        )

    def send(self, message: EmailMessage) -> None:
        try:
            self._send(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise MailDeliveryError(
                f"SMTP server {self.host}:{self.port} refused the recipients: {exc.recipients}",
                permanent=bool(codes) and all(code >= 500 for code in codes),
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise MailDeliveryError(
                f"SMTP server {self.host}:{self.port} replied {exc.smtp_code}: {exc.smtp_error!r}",
                permanent=exc.smtp_code >= 500,
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:  # refused, timeout, TLS, disconnect
            raise MailDeliveryError(
                f"could not send mail via {self.host}:{self.port}: {type(exc).__name__}: {exc}"
            ) from exc

    def _send(self, message: EmailMessage) -> None:
        client: smtplib.SMTP
        if self.use_ssl:
            context = ssl.create_default_context()
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
            if self.username:
                client.login(self.username, self._password or "")
            refused = client.send_message(message)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)


class OutboxSender:
    """Writes each mail to DIRECTORY/<utc timestamp>-<random>.eml (development)."""

    def __init__(self, directory: Path, clock: Clock | None = None) -> None:
        self.directory = directory
        self.clock = clock or SystemClock()

    def __repr__(self) -> str:
        return f"OutboxSender(directory={str(self.directory)!r})"

    def send(self, message: EmailMessage) -> None:
        stamp = self.clock.now().astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.directory / f"{stamp}-{secrets.token_hex(4)}.eml"
        temporary = path.with_name(f".{path.name}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Write then rename, so whoever watches the outbox never reads half a mail.
            with temporary.open("xb") as file:
                file.write(message.as_bytes())
            os.replace(temporary, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            raise MailDeliveryError(f"could not write mail to {path}: {exc}") from exc
        log.info("mail written to %s (no STREAMSVC_SMTP_HOST set)", path)


def sender_from_settings(settings: Settings) -> MailSender:
    """SMTP when STREAMSVC_SMTP_HOST is set, else the outbox in DATA_DIR/outbox."""
    if settings.smtp_host:
        return SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username or None,
            password=(
                settings.smtp_password.get_secret_value() if settings.smtp_password else None
            ),
            starttls=settings.smtp_starttls,
            use_ssl=settings.smtp_ssl,
        )
    return OutboxSender(settings.data_dir / "outbox")
