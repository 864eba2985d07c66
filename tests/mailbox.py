"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    """One mail as the SMTP server got it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    authenticated: bool


@dataclass
class Mailbox:
    """A handler for aiosmtpd: keeps what arrives, refuses the recipients it is told to."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                message=message,
                authenticated=bool(session.authenticated),
            )
        )
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        ok = (auth_data.login, auth_data.password) == (b"box-office", b"s3cret-pass")
        return AuthResult(success=ok, handled=False)  # handled=False: the server replies 535


def _free_port() -> int:
    # aiosmtpd connects to its own port to check it is up, so it cannot be given port 0.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=_free_port())
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=box.port,
        server_hostname="smtp.test",
        authenticator=box.authenticate,
        # Plain-text AUTH over loopback; AUTH is offered, never required (no warning).
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
