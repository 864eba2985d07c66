"""Idempotency-Key: a repeated request with the same key and body gets the first answer.

A request under a key first `claim`s it (in the same transaction as its effect);
the answer is stored with `complete`. Another body under the same key is a 409.
A claim whose request died before completing can be resumed from `resource_id`.

The scope names the route and the requester: a replay hands back the first answer,
secrets in it included (an order token), so a scope must be one only the first
requester can reach again (a venue's API key, or a buyer's e-mail for public buying).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Field, Session, SQLModel, col, select

from streamsvc.errors import Conflict
from streamsvc.kit.columns import jsonb, timestamp

SCOPE_LENGTH = 100


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_keys"

    scope: str = Field(primary_key=True, max_length=SCOPE_LENGTH)  # route and caller
    key: str = Field(primary_key=True, max_length=255)
    request_hash: str = Field(max_length=64)
    resource_id: str | None = Field(default=None, max_length=32)
    status_code: int | None = None
    response: dict[str, Any] = jsonb(default={})
    created_at: datetime = timestamp()


@dataclass(frozen=True)
class Replay:
    status_code: int | None  # None: the first request has not finished
    response: dict[str, Any]
    resource_id: str | None


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def claim(session: Session, scope: str, key: str, body_hash: str, now: datetime) -> Replay | None:
    """Claim the key for this request; None when it is new, else what the first one left."""
    if len(scope) > SCOPE_LENGTH:  # a caller built it from an unchecked path id
        raise ValueError(f"an idempotency scope is at most {SCOPE_LENGTH} characters")
    inserted = session.execute(
        insert(IdempotencyRecord)
        .values(scope=scope, key=key, request_hash=body_hash, response={}, created_at=now)
        .on_conflict_do_nothing()
        .returning(col(IdempotencyRecord.key))
    ).first()
    if inserted is not None:
        return None
    record = session.exec(
        select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    ).one()
    if record.request_hash != body_hash:
        raise Conflict(
            "This Idempotency-Key was used with another request body.",
            code="idempotency_key_reused",
        )
    return Replay(record.status_code, record.response, record.resource_id)


def attach(
    session: Session, scope: str, key: str, resource_id: str, partial: dict[str, Any]
) -> None:
    """Remember what the request created so far, so a retry can resume it."""
    record = session.get(IdempotencyRecord, (scope, key))
    if record is not None:
        record.resource_id = resource_id
        record.response = partial
        session.add(record)


def complete(
    session: Session, scope: str, key: str, status_code: int, response: dict[str, Any]
) -> None:
    record = session.get(IdempotencyRecord, (scope, key))
    if record is not None and record.status_code is None:
        record.status_code = status_code
        record.response = response
        session.add(record)


def purge(session: Session, older_than: datetime) -> int:
    """Forget keys past their useful life (they hold answers with order tokens in them)."""
    result = session.execute(
        delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)
