"""Tenant isolation: a venue reaches only its own rows; anything else is 404."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlmodel import Session, select

from streamsvc.errors import NotFound

T = TypeVar("T")


def owned(
    session: Session, model: type[T], object_id: str, venue_id: str, *, lock: bool = False
) -> T:
    """The row of `model` with this id that belongs to this venue, or 404 (never 403)."""
    query: Any = select(model).where(
        model.id == object_id,  # type: ignore[attr-defined]
        model.venue_id == venue_id,  # type: ignore[attr-defined]
    )
    if lock:
        query = query.with_for_update()
    row: T | None = session.exec(query).first()
    if row is None:
        raise NotFound(f"No such {model.__name__.lower()}.")
    return row
