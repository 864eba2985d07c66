"""Keyset pagination with an opaque cursor: `?limit=&cursor=` → `{data, next_cursor}`."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlmodel import Session

from streamsvc.errors import ValidationFailed

T = TypeVar("T")


class PageQuery(BaseModel):
    model_config = {"extra": "forbid"}
    limit: int = Field(default=50, ge=1, le=100, description="Most items on the page.")
    cursor: str | None = Field(
        default=None, max_length=200, description="The `next_cursor` of the previous page."
    )


class Page(BaseModel, Generic[T]):
    data: list[T] = Field(description="The items of this page, in the list's order.")
    next_cursor: str | None = Field(
        default=None, description="Send as `cursor` for the next page; null on the last page."
    )


def encode_cursor(sort_value: datetime, object_id: str) -> str:
    raw = json.dumps([sort_value.isoformat(), object_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (sort value, id) after which the next page starts; 422 when it is not ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value: Any = json.loads(base64.urlsafe_b64decode(padded.encode()))
        sort_value, object_id = value
        return datetime.fromisoformat(sort_value), str(object_id)
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            "The cursor is not one this API gave out.", fields={"query.cursor": "invalid cursor"}
        ) from exc


def paginate(
    session: Session, query: Any, sort_column: Any, id_column: Any, page: PageQuery
) -> tuple[list[Any], str | None]:
    """One page of `query` in (sort_column, id) order, and the cursor of the next page."""
    if page.cursor:
        after, after_id = decode_cursor(page.cursor)
        query = query.where(
            (sort_column > after) | ((sort_column == after) & (id_column > after_id))
        )
    rows = list(session.exec(query.order_by(sort_column, id_column).limit(page.limit + 1)))
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    last = rows[-1]
    return rows, encode_cursor(getattr(last, sort_column.key), last.id)
