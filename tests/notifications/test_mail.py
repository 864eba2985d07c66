"""Ticket mails, delivered to a real SMTP server (aiosmtpd) on 127.0.0.1 and to the outbox."""

from __future__ import annotations

import email
import email.policy
import logging
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from streamsvc.kit.clock import FixedClock
from streamsvc.notifications.mail import (
    MailDeliveryError,
    OutboxSender,
    SmtpSender,
    TicketLine,
    TicketMail,
    choose_locale,
    render_ticket_mail,
    sender_from_settings,
)
from tests.mailbox import Mailbox, Received, _free_port, running_mailbox

SENDER = "streamsvc <tickets@streamsvc.example>"
WATCH_URL = "https://watch.streamsvc.example/w/{code}"
CODES = ("TK7Q2M9XH4", "TKB8N3C6VR")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with running_mailbox() as box:
        yield box


def make_mail(**changes: Any) -> TicketMail:
    mail = TicketMail(
        to="fan@example.nl",
        locale="nl",
        order_id="ord_01JTICKETS",
        event_title="Tosca",
        venue_name="Muziekgebouw aan 't IJ",
        starts_at=datetime(2027, 3, 1, 19, 0, tzinfo=UTC),
        timezone="Europe/Amsterdam",
        doors_open_minutes=30,
        tickets=[TicketLine(CODES[0], "Stream HD"), TicketLine(CODES[1], "Supporter")],
        watch_url=WATCH_URL,
    )
    return replace(mail, **changes)


def deliver(box: Mailbox, mail: TicketMail) -> Received:
    SmtpSender("127.0.0.1", box.port, timeout=5).send(render_ticket_mail(mail, SENDER))
    assert len(box.received) == 1
    return box.received[0]


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    markup = message.get_body(preferencelist=("html",))
    assert text is not None
    assert markup is not None
    assert isinstance(text, EmailMessage)
    assert isinstance(markup, EmailMessage)
    return str(text.get_content()), str(markup.get_content())


def test_a_dutch_ticket_mail_arrives_with_every_code_and_link(mailbox: Mailbox) -> None:
    mail = make_mail(locale="nl")
    got = deliver(mailbox, mail)
    message = got.message

    assert got.rcpt_tos == ["fan@example.nl"]
    assert got.mail_from == "tickets@streamsvc.example"
    assert not got.authenticated  # no username: no login
    assert mailbox.logins == []
    assert message["To"] == "fan@example.nl"
    assert message["From"] == SENDER
    assert message["Subject"] == "Je 2 tickets voor Tosca"
    assert message["Content-Language"] == "nl"
    assert re.fullmatch(r"<[^<>@\s]+@streamsvc\.example>", message["Message-ID"])
    assert message["Date"].datetime.tzinfo is not None
    assert message.get_content_type() == "multipart/alternative"

    text, markup = parts(message)
    for body in (text, markup):
        for code in CODES:
            assert code in body
            assert WATCH_URL.format(code=code) in body
        # 19:00 UTC is 20:00 in Amsterdam on 1 March (CET); doors at 19:30.
        assert "maandag 1 maart 2027, 20:00 CET (Europe/Amsterdam)" in body
        assert "19:30" in body
        assert "19:00" not in body
        assert "Begint" in body  # the pages' word, from the same catalog
        assert "Stream HD" in body
        assert "Supporter" in body
    for code in CODES:
        assert f'href="{WATCH_URL.format(code=code)}"' in markup
    assert "Muziekgebouw aan &#39;t IJ" in markup
    assert "Muziekgebouw aan 't IJ" in text


def test_an_english_ticket_mail(mailbox: Mailbox) -> None:
    got = deliver(mailbox, make_mail(locale="en", tickets=[TicketLine(CODES[0], "Stream HD")]))
    assert got.message["Subject"] == "Your ticket for Tosca"
    text, markup = parts(got.message)
    for body in (text, markup):
        assert "Monday 1 March 2027, 20:00 CET (Europe/Amsterdam)" in body
        assert WATCH_URL.format(code=CODES[0]) in body
        assert CODES[1] not in body


def test_a_french_ticket_mail_from_the_pages_catalog(mailbox: Mailbox) -> None:
    got = deliver(mailbox, make_mail(locale="fr"))
    assert got.message["Subject"] == "Vos 2 billets pour Tosca"
    assert got.message["Content-Language"] == "fr"
    text, markup = parts(got.message)
    for body in (text, markup):
        assert "lundi 1 mars 2027, 20:00 CET (Europe/Amsterdam)" in body
        assert "Regarder" in body and "Bon spectacle !" in body


def test_summer_time_and_another_timezone() -> None:
    summer = render_ticket_mail(
        make_mail(locale="en", starts_at=datetime(2027, 7, 1, 19, 0, tzinfo=UTC)), SENDER
    )
    text, _ = parts(summer)
    assert "Thursday 1 July 2027, 21:00 CEST (Europe/Amsterdam)" in text
    new_york = render_ticket_mail(make_mail(locale="en", timezone="America/New_York"), SENDER)
    text, _ = parts(new_york)
    assert "Monday 1 March 2027, 14:00 EST (America/New_York)" in text


@pytest.mark.parametrize(
    ("accept_language", "subject"),
    [
        ("nl-NL,nl;q=0.9", "Je 2 tickets voor Tosca"),
        ("en-GB", "Your 2 tickets for Tosca"),
        (None, "Your 2 tickets for Tosca"),
    ],
)
def test_the_mail_language_follows_accept_language(
    mailbox: Mailbox, accept_language: str | None, subject: str
) -> None:
    got = deliver(mailbox, make_mail(locale=choose_locale(accept_language)))
    assert got.message["Subject"] == subject


def test_user_provided_text_is_escaped_in_html(mailbox: Mailbox) -> None:
    evil = "<script>alert('x')</script>"
    mail = make_mail(
        event_title=f"Tosca {evil}",
        venue_name=f"Venue {evil}",
        order_id=f"ord_{evil}",
        tickets=[TicketLine(CODES[0], f"Tier {evil}")],
    )
    got = deliver(mailbox, mail)
    text, markup = parts(got.message)
    assert "<script>" not in markup
    assert markup.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") >= 4
    assert evil in text  # plain text shows it as written
    assert got.message["Subject"] == f"Je ticket voor Tosca {evil}"


def test_line_breaks_in_a_title_cannot_add_headers() -> None:
    message = render_ticket_mail(make_mail(event_title="Tosca\r\nBcc: victim@example.com"), SENDER)
    assert message["Subject"] == "Je 2 tickets voor Tosca Bcc: victim@example.com"
    assert message["Bcc"] is None


def test_login_only_with_a_username_and_no_secret_in_the_mail(
    mailbox: Mailbox, tmp_path: Path
) -> None:
    settings = Settings(
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_username="box-office",
        smtp_password="s3cret-pass",
        smtp_starttls=False,
        smtp_ssl=False,
        data_dir=tmp_path,
    )
    sender = sender_from_settings(settings)
    assert isinstance(sender, SmtpSender)
    assert "s3cret-pass" not in repr(sender)
    sender.send(render_ticket_mail(make_mail(), settings.mail_from))

    assert mailbox.logins == [(b"box-office", b"s3cret-pass")]
    [got] = mailbox.received
    assert got.authenticated
    raw = got.message.as_bytes()
    assert b"s3cret-pass" not in raw
    assert b"box-office" not in raw
    assert not (tmp_path / "outbox").exists()


def test_a_wrong_password_is_a_permanent_delivery_error(mailbox: Mailbox) -> None:
    sender = SmtpSender("127.0.0.1", mailbox.port, username="box-office", password="nope")
    with pytest.raises(MailDeliveryError) as caught:
        sender.send(render_ticket_mail(make_mail(), SENDER))
    assert caught.value.permanent
    assert "nope" not in str(caught.value)
    assert mailbox.received == []


def test_a_refused_recipient_is_a_permanent_delivery_error(mailbox: Mailbox) -> None:
    mailbox.refuse.add("gone@example.nl")
    with pytest.raises(MailDeliveryError) as caught:
        SmtpSender("127.0.0.1", mailbox.port).send(
            render_ticket_mail(make_mail(to="gone@example.nl"), SENDER)
        )
    assert caught.value.permanent
    assert mailbox.received == []


def test_a_server_that_is_not_listening_fails_fast() -> None:
    port = _free_port()  # bound and released: nothing listens there now
    started = time.monotonic()
    with pytest.raises(MailDeliveryError) as caught:
        SmtpSender("127.0.0.1", port, timeout=5).send(render_ticket_mail(make_mail(), SENDER))
    assert time.monotonic() - started < 2
    assert not caught.value.permanent
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


def test_a_server_that_never_greets_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts the connection in the backlog, never says a word
        started = time.monotonic()
        with pytest.raises(MailDeliveryError) as caught:
            SmtpSender("127.0.0.1", silent.getsockname()[1], timeout=0.3).send(
                render_ticket_mail(make_mail(), SENDER)
            )
        assert time.monotonic() - started < 3
    assert not caught.value.permanent
    assert "timed out" in str(caught.value)


def test_starttls_and_ssl_together_are_refused() -> None:
    with pytest.raises(ValueError, match="STARTTLS"):
        SmtpSender("127.0.0.1", 25, starttls=True, use_ssl=True)


def test_the_outbox_holds_a_parseable_eml(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(smtp_host=None, data_dir=tmp_path)
    sender = sender_from_settings(settings)
    assert isinstance(sender, OutboxSender)
    assert sender.directory == tmp_path / "outbox"
    sender.clock = FixedClock(datetime(2027, 3, 1, 19, 0, 5, 250_000, tzinfo=UTC))

    with caplog.at_level(logging.INFO, logger="streamsvc.notifications.mail"):
        sender.send(render_ticket_mail(make_mail(locale="en"), SENDER))
        sender.send(render_ticket_mail(make_mail(locale="nl"), SENDER))

    files = sorted((tmp_path / "outbox").iterdir())
    assert len(files) == 2
    for path in files:
        assert re.fullmatch(r"20270301T190005250000Z-[0-9a-f]{8}\.eml", path.name)
    subjects = set()
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        assert message["To"] == "fan@example.nl"
        subjects.add(message["Subject"])
        text, markup = parts(message)
        for code in CODES:
            assert WATCH_URL.format(code=code) in text
            assert WATCH_URL.format(code=code) in markup
    assert subjects == {"Your 2 tickets for Tosca", "Je 2 tickets voor Tosca"}
    logged = [r.getMessage() for r in caplog.records if r.name == "streamsvc.notifications.mail"]
    assert sorted(logged) == [f"mail written to {p} (no STREAMSVC_SMTP_HOST set)" for p in files]


def test_an_unwritable_outbox_is_a_delivery_error(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(MailDeliveryError):
        OutboxSender(blocker).send(render_ticket_mail(make_mail(), SENDER))


def test_a_ticket_mail_needs_an_aware_time_and_a_code_placeholder() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_mail(starts_at=datetime(2027, 3, 1, 19, 0))
    with pytest.raises(ValueError, match="code"):
        make_mail(watch_url="https://watch.example/w/")


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("nl-BE,nl;q=0.9,en;q=0.8", "nl"),
        ("nl-NL,nl;q=0.9", "nl"),
        ("NL", "nl"),
        ("en-US", "en"),
        ("en-GB", "en"),
        ("fr, nl;q=0.5", "fr"),  # French too: the Brussels audience
        ("fr;q=0.4, nl;q=0.5, en;q=0.6", "en"),
        ("de-DE, fr;q=0.9", "fr"),
        ("de-DE, es;q=0.9", "en"),
        ("en;q=0.5, nl;q=0.7", "nl"),
        ("en, nl", "en"),
        ("nl, en", "nl"),
        ("en;q=0.5, nl, en", "nl"),
        ("nl;q=0, en;q=0.1", "en"),
        ("nl;q=0", "en"),
        ("*", "en"),
        ("de, *;q=0.5", "en"),
        ("*;q=0.5, nl;q=0.6", "nl"),
        ("*, en;q=0", "nl"),
        ("nl;q=2, en;q=0.1", "en"),
        ("nl;q=abc", "en"),
        ("nl ; q = 0.8 , en;q=0.7", "nl"),
        ("nl-BE;level=1", "nl"),
        ("", "en"),
        ("   ", "en"),
        (",,,;;;===", "en"),
        ("\x00\xff garbage <script>", "en"),
        ("tlh-xxxxxxxxxxxx, nl;q=0.1", "nl"),  # a subtag longer than 8: skipped
        ("x" * 5000 + ", nl", "en"),  # beyond what we read
        ("de," * 10_000 + "nl", "en"),  # beyond what we read
        (None, "en"),
    ],
)
def test_choose_locale(header: str | None, locale: str) -> None:
    assert choose_locale(header) == locale
