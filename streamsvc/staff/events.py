"""Mails of the staff accounts, sent by a worker after the commit. Must not be lost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from streamsvc.kit.events import DomainEvent


@dataclass(frozen=True)
class InvitationIssued(DomainEvent):
    """A person was invited to a venue: mail them the link to set a password."""

    durable: ClassVar[bool] = True
    invitation_id: str


@dataclass(frozen=True)
class PasswordResetRequested(DomainEvent):
    """A person asked for a new password: mail them the link (valid 1 h)."""

    durable: ClassVar[bool] = True
    reset_id: str
