"""Staff test helpers: a venue with a first admin, the mailed links, logging in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import pyotp
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.staff import mail
from tests.factories import PLATFORM, ok

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_LINK = re.compile(r"(https?://\S+#token=[A-Za-z0-9_-]+)")


class CapturingSender:
    """Our MailSender protocol, keeping the messages instead of sending them."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.messages.append(message)


def csrf(client: TestClient, path: str = "/console/login") -> str:
    page = client.get(path)
    match = _CSRF.search(page.text)
    assert match, page.text[:500]
    return match.group(1)


def post(client: TestClient, path: str, data: dict[str, str], *, token: str | None = None,
         **kwargs: Any) -> Any:  # fmt: skip
    """A form POST with this browser's CSRF token (fetched from the login page)."""
    fields = {"csrf_token": token if token is not None else csrf(client), **data}
    return client.post(path, data=fields, follow_redirects=False, **kwargs)


def mailed_link(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    match = _LINK.search(body.get_content())
    assert match, body.get_content()
    return match.group(1)


def token_of(link: str) -> str:
    return link.split("#token=", 1)[1]


def send_mails(queue: Any, database: Database, settings: Settings, now: datetime) -> list[str]:
    """Run the mail tasks the requests enqueued, as the worker would; the links mailed."""
    sender = CapturingSender()
    for name, args in queue.sent:
        if name == "staff.send_invitation":
            mail.send_invitation(database, settings, sender, args[0], now)
        elif name == "staff.send_password_reset":
            mail.send_password_reset(database, settings, sender, args[0], now)
    queue.sent.clear()
    return [mailed_link(message) for message in sender.messages]


@dataclass
class Admin:
    venue_id: str
    key: str
    email: str
    password: str = PASSWORD
    totp_secret: str | None = None

    def code(self, now: datetime) -> str:
        assert self.totp_secret is not None
        return pyotp.TOTP(self.totp_secret).at(now)


def new_venue(client: TestClient, email: str, name: str = "De Nederlandse Opera",
              admin_name: str = "Ada Admin") -> tuple[str, str]:  # fmt: skip
    body = {"name": name, "country": "NL", "currency": "EUR", "timezone": "Europe/Amsterdam",
            "admin_email": email, "admin_name": admin_name}  # fmt: skip
    created = ok(client.post("/v1/venues", json=body, headers=PLATFORM), 201)
    return created["venue"]["id"], created["api_key"]["key"]


def accept(client: TestClient, link: str, password: str = PASSWORD) -> Any:
    token = csrf(client, "/console/invitations/accept")
    return post(client, "/console/invitations/accept",
                {"token": token_of(link), "password": password, "password_again": password},
                token=token)  # fmt: skip


def admin_signed_in(client: TestClient, queue: Any, database: Database, settings: Settings,
                    now: datetime, email: str = "ada@example.org",
                    name: str = "De Nederlandse Opera", admin_name: str = "Ada Admin") -> Admin:  # fmt: skip
    """A venue made with its first admin, who accepted the mailed invitation (signed in)."""
    venue_id, key = new_venue(client, email, name, admin_name)
    [link] = send_mails(queue, database, settings, now)
    answer = accept(client, link)
    assert answer.status_code == 303, answer.text
    return Admin(venue_id=venue_id, key=key, email=email)


def log_in(client: TestClient, email: str, password: str = PASSWORD, **kwargs: Any) -> Any:
    token = csrf(client)
    return post(client, "/console/login", {"email": email, "password": password, "next": "/console/account"},
                token=token, **kwargs)  # fmt: skip


def enrol_totp(client: TestClient, now: datetime) -> tuple[str, list[str]]:
    """Turn TOTP on from the account page; (the secret, the recovery codes shown)."""
    page = client.get("/console/account")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)
    token = _CSRF.search(page.text)
    assert secret and token, page.text
    code = pyotp.TOTP(secret.group(1)).at(now)
    answer = post(client, "/console/account/totp", {"code": code}, token=token.group(1))
    assert answer.status_code == 200, answer.text
    codes = re.findall(r"<li><code>([0-9a-z]{5}-[0-9a-z]{5})</code></li>", answer.text)
    assert len(codes) == 10
    return secret.group(1), codes


def browser(client: TestClient, address: str) -> TestClient:
    """Another browser on the same app, from another client address (its own cookies).
    It shares the running app's event loop (the lifespan's Redis pool lives there)."""
    other = TestClient(client.app, raise_server_exceptions=False, client=(address, 50000))
    other.portal = client.portal
    return other


def invite(client: TestClient, email: str, role: str, name: str = "Fred Finance") -> Any:
    return post(client, "/console/members", {"email": email, "name": name, "role": role},
                token=csrf(client, "/console/members"))  # fmt: skip


def member_signed_in(client: TestClient, queue: Any, database: Database, settings: Settings,
                     now: datetime, email: str, role: str, address: str = "198.51.100.7") -> TestClient:  # fmt: skip
    """An admin (signed in on `client`) invites `email`; it accepts in a browser of its own."""
    assert invite(client, email, role).status_code == 200
    [link] = send_mails(queue, database, settings, now)
    other = browser(client, address)
    assert accept(other, link).status_code == 303
    return other
