"""Reading a venue's audit log: newest first, filtered, a page at a time.

Names are resolved here, when read (a key's label, a person's name), through the
`NameSource`s the application wires in: the audit package imports no domain, since
the domains import it to record.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from streamsvc.audit.models import AuditEntry
from streamsvc.audit.schemas import AuditActor, AuditEntryPublic, AuditPage, AuditQuery
from streamsvc.audit.service import MONEY_ACTIONS
from streamsvc.errors import Forbidden
from streamsvc.kit.pagination import decode_cursor, encode_cursor

# The names of the actors of one kind, by id; an unknown id is left out.
NameSource = Callable[[Session, Collection[str]], Mapping[str, str]]
_FIXED_LABELS = {"system": "system", "platform": "platform operator", "buyer": "buyer"}


def entries(
    session: Session,
    venue_id: str,
    role: str,
    query: AuditQuery,
    names: Mapping[str, NameSource],
) -> AuditPage:
    """The venue's entries matching `query`. An admin reads all of them; finance only
    the money actions (refunds, cancellations, split rules, prices, findings)."""
    statement = select(AuditEntry).where(AuditEntry.venue_id == venue_id)
    if role == "finance":
        statement = statement.where(col(AuditEntry.action).in_(sorted(MONEY_ACTIONS)))
    elif role != "admin":
        raise Forbidden("The audit log is for admin and finance keys.")
    if query.object_type:
        statement = statement.where(AuditEntry.object_type == query.object_type)
    if query.object_id:
        statement = statement.where(AuditEntry.object_id == query.object_id)
    if query.actor_kind:
        statement = statement.where(AuditEntry.actor_kind == query.actor_kind)
    if query.actor_id:
        statement = statement.where(AuditEntry.actor_id == query.actor_id)
    if query.action:
        prefix = col(AuditEntry.action).startswith(query.action, autoescape=True)
        statement = statement.where(prefix)
    if query.from_:
        statement = statement.where(col(AuditEntry.created_at) >= query.from_)
    if query.to:
        statement = statement.where(col(AuditEntry.created_at) < query.to)
    if query.cursor:
        before, before_id = decode_cursor(query.cursor)
        statement = statement.where(or_(
            col(AuditEntry.created_at) < before,
            and_(col(AuditEntry.created_at) == before, col(AuditEntry.id) < before_id),
        ))  # fmt: skip
    ordered = statement.order_by(col(AuditEntry.created_at).desc(), col(AuditEntry.id).desc())
    rows = list(session.exec(ordered.limit(query.limit + 1)))
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    labels = _labels(session, rows, names)
    data = [
        AuditEntryPublic(
            id=row.id, venue_id=row.venue_id,
            actor=AuditActor.model_validate({
                "kind": row.actor_kind, "id": row.actor_id,
                "label": labels.get((row.actor_kind, row.actor_id), row.actor_id),
            }),
            action=row.action, object_type=row.object_type, object_id=row.object_id,
            changes=row.changes, request_id=row.request_id, created_at=row.created_at,
        )
        for row in rows
    ]  # fmt: skip
    cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return AuditPage(data=data, next_cursor=cursor)


def _labels(
    session: Session, rows: list[AuditEntry], names: Mapping[str, NameSource]
) -> dict[tuple[str, str], str]:
    """(kind, id) -> label, one query per kind of actor on the page."""
    wanted: dict[str, set[str]] = {}
    for row in rows:
        wanted.setdefault(row.actor_kind, set()).add(row.actor_id)
    found: dict[tuple[str, str], str] = {}
    for kind, ids in wanted.items():
        if kind in _FIXED_LABELS:
            found.update({(kind, i): _FIXED_LABELS[kind] for i in ids})
        elif kind in names:
            found.update({(kind, i): label for i, label in names[kind](session, ids).items()})
    return found
