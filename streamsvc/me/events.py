"""The mails of `/me`, sent by a worker after the commit. Must not be lost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from streamsvc.kit.events import DomainEvent


@dataclass(frozen=True)
class PerformerSignInRequested(DomainEvent):
    """A performer asked to sign in: mail them the link (while it is open)."""

    durable: ClassVar[bool] = True
    link_id: str


@dataclass(frozen=True)
class PerformerDetailsChanged(DomainEvent):
    """A performer changed their payout details on `/me`: tell the address on record,
    so that someone else who got into their session cannot redirect the money unseen.
    The mail names the details as they are when it is sent (masked)."""

    durable: ClassVar[bool] = True
    performer_id: str
