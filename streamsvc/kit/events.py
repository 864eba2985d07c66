"""The base of every domain event (what happened, raised by a service, handled after
the commit by the handlers `streamsvc.bootstrap` registers on the message bus)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar


@dataclasses.dataclass(frozen=True)
class DomainEvent:
    """What happened, in the product's words. Subclasses are frozen dataclasses of
    JSON-safe fields (they travel through the outbox as JSON)."""

    durable: ClassVar[bool] = False
    _kinds: ClassVar[dict[str, type[DomainEvent]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        DomainEvent._kinds[cls.__name__] = cls

    def payload(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @staticmethod
    def decode(kind: str, payload: dict[str, Any]) -> DomainEvent:
        """An event back from the outbox (KeyError for a kind this code does not know)."""
        return DomainEvent._kinds[kind](**payload)
