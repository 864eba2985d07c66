"""Display names of the audit log's actors, read from the domains that own them.

The audit package cannot import these domains (they import it to record), so
app.py hands these sources to the audit routes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlmodel import Session, col, select

from streamsvc.audit.reading import NameSource
from streamsvc.catalog.models import Performer
from streamsvc.staff.models import Person
from streamsvc.venues.models import ApiKey


def key_labels(session: Session, ids: Collection[str]) -> dict[str, str]:
    """The label of each API key, revoked ones included."""
    rows = session.exec(select(ApiKey.id, ApiKey.label).where(col(ApiKey.id).in_(list(ids))))
    return dict(rows.all())


def staff_names(session: Session, ids: Collection[str]) -> dict[str, str]:
    """The display name of each person (never the e-mail address)."""
    rows = session.exec(select(Person.id, Person.display_name).where(col(Person.id).in_(list(ids))))
    return dict(rows.all())


def performer_names(session: Session, ids: Collection[str]) -> dict[str, str]:
    """The name of each performer (acting on /me)."""
    rows = session.exec(
        select(Performer.id, Performer.name).where(col(Performer.id).in_(list(ids)))
    )
    return dict(rows.all())


NAME_SOURCES: Mapping[str, NameSource] = {
    "key": key_labels,
    "staff": staff_names,
    "performer": performer_names,
}
