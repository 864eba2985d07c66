"""Who calls an endpoint, and the protocol that finds out. The venues domain answers it
(API keys); app.py wires it in, so http imports no domain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlmodel import Session
from starlette.datastructures import Headers

from config.settings import Settings


@dataclass(frozen=True)
class Staff:
    venue_id: str
    role: str
    key_id: str


class Authenticator(Protocol):
    def staff(self, session: Session, headers: Headers, now: datetime) -> Staff:
        """The staff member behind the request's key, or raise Unauthenticated (401)."""
        ...

    def platform(self, headers: Headers, settings: Settings) -> None:
        """Return when the request carries the platform operator's key, else raise 401."""
        ...
