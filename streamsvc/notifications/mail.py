"""Ticket mails: rendered in Dutch or English, sent over SMTP or written to an outbox.

Nothing is built at import. A worker builds its sender once with `sender_from_settings`
and passes it in; `MailDeliveryError` tells a Celery task that it may retry.
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
import re
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

from streamsvc.kit.clock import Clock, SystemClock

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)

Locale = Literal["nl", "en"]
DEFAULT_LOCALE: Locale = "en"
SUPPORTED_LOCALES: tuple[Locale, ...] = ("nl", "en")

# Bounds on what we read of a client's header; browsers send a handful of entries.
_MAX_ACCEPT_LANGUAGE_CHARS = 1024
_MAX_ACCEPT_LANGUAGE_ENTRIES = 32
_LANGUAGE_RANGE = re.compile(r"^(?:\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)$")
_QVALUE = re.compile(r"^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$")


def choose_locale(accept_language: str | None) -> Locale:
    """The best of nl/en for an HTTP Accept-Language header (RFC 9110); "en" by default.

    A language counts by its primary subtag (`nl-BE` is Dutch) with the highest q-value
    given for it; `*` stands for every language not named. Equal q-values go to the one
    named first. Malformed entries are skipped; this never raises.
    """
    if not isinstance(accept_language, str) or not accept_language.strip():
        return DEFAULT_LOCALE
    explicit: dict[str, tuple[float, int]] = {}  # primary subtag -> (q, position)
    wildcard: tuple[float, int] | None = None
    entries = accept_language[:_MAX_ACCEPT_LANGUAGE_CHARS].split(",")
    for position, entry in enumerate(entries[:_MAX_ACCEPT_LANGUAGE_ENTRIES]):
        language_range, *params = (part.strip() for part in entry.split(";"))
        if not _LANGUAGE_RANGE.match(language_range):
            continue
        q = _q_value(params)
        if q is None:
            continue
        if language_range == "*":
            if wildcard is None or q > wildcard[0]:
                wildcard = (q, position)
            continue
        primary = language_range.split("-", 1)[0].lower()
        if primary not in explicit or q > explicit[primary][0]:
            explicit[primary] = (q, position)
    best: Locale = DEFAULT_LOCALE
    best_rank: tuple[float, int] = (0.0, 0)
    for locale in SUPPORTED_LOCALES:
        q, position = explicit.get(locale) or wildcard or (0.0, 0)
        rank = (q, -position)
        # The default wins ties it is part of: `*` alone means "anything", so English.
        if q > 0 and (rank > best_rank or (rank == best_rank and locale == DEFAULT_LOCALE)):
            best, best_rank = locale, rank
    return best


def _q_value(params: list[str]) -> float | None:
    """The q parameter of one Accept-Language entry (1 when absent), or None if malformed."""
    for param in params:
        name, sep, value = param.partition("=")
        if name.strip().lower() != "q":
            continue
        value = value.strip()
        if not sep or not _QVALUE.match(value):
            return None
        return float(value)
    return 1.0


@dataclass(frozen=True)
class TicketLine:
    """One ticket in a mail: its code and the name of its tier."""

    code: str
    tier_name: str


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
    watch_url: str  # a template with `{code}`

    def __post_init__(self) -> None:
        if self.starts_at.tzinfo is None or self.starts_at.utcoffset() is None:
            raise ValueError("TicketMail.starts_at must be timezone-aware")
        if "{code}" not in self.watch_url:
            raise ValueError("TicketMail.watch_url must contain `{code}`")
        if self.locale not in SUPPORTED_LOCALES:
            raise ValueError(f"TicketMail.locale must be one of {SUPPORTED_LOCALES}")


_WEEKDAYS: dict[Locale, tuple[str, ...]] = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
}
_MONTHS: dict[Locale, tuple[str, ...]] = {
    "en": tuple(
        "January February March April May June "
        "July August September October November December".split()
    ),
    "nl": tuple(
        "januari februari maart april mei juni "
        "juli augustus september oktober november december".split()
    ),
}

_PHRASES: dict[Locale, dict[str, str]] = {
    "en": {
        "subject_one": "Your ticket for {title}",
        "subject_many": "Your {count} tickets for {title}",
        "greeting": "Hello,",
        "intro": "Thank you for your order. Here is how to watch {title}.",
        "event": "Event",
        "venue": "Venue",
        "starts": "Starts",
        "doors": "Doors open",
        "when": "{weekday} {day} {month} {year}, {time}",
        "tickets": "Your tickets",
        "ticket": "Ticket",
        "watch": "Watch",
        "personal": "Each link is personal to its ticket: do not share it.",
        "order": "Order",
        "closing": "Enjoy the show!",
    },
    "nl": {
        "subject_one": "Je ticket voor {title}",
        "subject_many": "Je {count} tickets voor {title}",
        "greeting": "Hallo,",
        "intro": "Bedankt voor je bestelling. Zo kijk je naar {title}.",
        "event": "Voorstelling",
        "venue": "Locatie",
        "starts": "Aanvang",
        "doors": "Deuren open",
        "when": "{weekday} {day} {month} {year}, {time}",
        "tickets": "Je tickets",
        "ticket": "Ticket",
        "watch": "Kijken",
        "personal": "Elke link hoort bij één ticket: deel hem niet.",
        "order": "Bestelling",
        "closing": "Veel kijkplezier!",
    },
}

_TEXT_TICKET = "- {tier}: {code}\n  {watch}: {link}\n"
_HTML_TICKET = (
    '<li><strong>{tier}</strong>: <code>{code}</code><br>\n<a href="{link}">{watch}</a>'
    " &ndash; {link}</li>\n"
)
_HTML = """\
<!DOCTYPE html>
<html lang="{lang}">
<head><meta charset="utf-8"><title>{subject}</title></head>
<body>
<p>{greeting}</p>
<p>{intro}</p>
<table>
<tr><th align="left">{event_label}</th><td>{title}</td></tr>
<tr><th align="left">{venue_label}</th><td>{venue}</td></tr>
<tr><th align="left">{starts_label}</th><td>{starts}</td></tr>
{doors_row}</table>
<h2>{tickets_label}</h2>
<ul>
{tickets}</ul>
<p>{personal}</p>
<p>{order_label}: {order_id}</p>
<p>{closing}</p>
</body>
</html>
"""


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
    phrases = _PHRASES[locale]
    return phrases["when"].format(
        weekday=_WEEKDAYS[locale][moment.weekday()],
        day=moment.day,
        month=_MONTHS[locale][moment.month - 1],
        year=moment.year,
        time=f"{moment:%H:%M} {moment.tzname() or ''}".rstrip(),
    )


def watch_link(template: str, code: str) -> str:
    """The personal watch link of one ticket code."""
    return template.format(code=quote(code, safe=""))


def _message_id_domain(sender: str) -> str:
    # Not socket.getfqdn(): that can block on DNS and leaks the worker's host name.
    _, address = parseaddr(sender)
    domain = address.rpartition("@")[2].strip()
    return domain if domain and "@" in address else "streamsvc.localhost"


def render_ticket_mail(
    mail: TicketMail, sender: str, *, now: datetime | None = None
) -> EmailMessage:
    """The ticket mail: plain text plus an HTML alternative, in the mail's locale."""
    phrases = _PHRASES[mail.locale]
    zone = _zone(mail.timezone)
    zone_label = mail.timezone if zone is not UTC else "UTC"
    local_start = mail.starts_at.astimezone(zone)
    starts = f"{_when(local_start, mail.locale)} ({zone_label})"
    doors = None
    if mail.doors_open_minutes > 0:
        doors_at = (mail.starts_at - timedelta(minutes=mail.doors_open_minutes)).astimezone(zone)
        doors = (
            f"{doors_at:%H:%M}"
            if doors_at.date() == local_start.date()
            else _when(doors_at, mail.locale)
        )
    title = _one_line(mail.event_title)
    venue = _one_line(mail.venue_name)
    key = "subject_one" if len(mail.tickets) == 1 else "subject_many"
    subject = phrases[key].format(title=title, count=len(mail.tickets))
    lines = [(line, watch_link(mail.watch_url, line.code)) for line in mail.tickets]

    text = "".join(
        [
            f"{phrases['greeting']}\n\n",
            phrases["intro"].format(title=title) + "\n\n",
            f"{phrases['event']}: {title}\n",
            f"{phrases['venue']}: {venue}\n",
            f"{phrases['starts']}: {starts}\n",
            f"{phrases['doors']}: {doors}\n" if doors else "",
            f"\n{phrases['tickets']}:\n",
            *(
                _TEXT_TICKET.format(
                    tier=_one_line(line.tier_name),
                    code=line.code,
                    watch=phrases["watch"],
                    link=link,
                )
                for line, link in lines
            ),
            f"\n{phrases['personal']}\n",
            f"{phrases['order']}: {mail.order_id}\n\n",
            f"{phrases['closing']}\n",
        ]
    )

    e = html.escape
    body = _HTML.format(
        lang=mail.locale,
        subject=e(subject),
        greeting=e(phrases["greeting"]),
        intro=e(phrases["intro"].format(title=title)),
        event_label=e(phrases["event"]),
        title=e(title),
        venue_label=e(phrases["venue"]),
        venue=e(venue),
        starts_label=e(phrases["starts"]),
        starts=e(starts),
        doors_row=(
            f'<tr><th align="left">{e(phrases["doors"])}</th><td>{e(doors)}</td></tr>\n'
            if doors
            else ""
        ),
        tickets_label=e(phrases["tickets"]),
        tickets="".join(
            _HTML_TICKET.format(
                tier=e(line.tier_name), code=e(line.code), link=e(link), watch=e(phrases["watch"])
            )
            for line, link in lines
        ),
        personal=e(phrases["personal"]),
        order_label=e(phrases["order"]),
        order_id=e(mail.order_id),
        closing=e(phrases["closing"]),
    )

    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = mail.to.strip()
    message["Date"] = format_datetime((now or datetime.now(UTC)).astimezone(UTC))
    message["Message-ID"] = make_msgid("ticket", domain=_message_id_domain(sender))
    # RFC 3834: a machine-sent mail; vacation responders should not answer it.
    message["Auto-Submitted"] = "auto-generated"
    # Quoted-printable keeps an outbox .eml readable in a text editor.
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(body, subtype="html", cte="quoted-printable")
    message["Content-Language"] = mail.locale  # after set_content, which drops Content-*
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
