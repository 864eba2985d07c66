"""Per-request (or per-task) context that log lines and the audit log carry."""

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff member, a venue API key, the platform operator, the system
    (a worker, the clock), a buyer, or a performer signed in on /me. `label` is for
    display only (a name, a key's label); the audit log stores `kind` and `id` and
    resolves names when it is read."""

    kind: Literal["staff", "key", "platform", "system", "buyer", "performer"]
    id: str
    label: str


# Set by whoever authenticates the caller (the API-key authenticator, the console
# guard); unset means the system acts (a Celery task, beat).
actor_var: ContextVar[Actor | None] = ContextVar("actor", default=None)
