"""The kinds of event a venue may file its events under: UiTdatabank's event types.

The sector's listings (UiTdatabank, listings/uitdatabank) require exactly one term of
the `eventtype` domain per event. Their taxonomy is a dated snapshot shipped with the
project (uitdatabank_types.json: its date and sources are in the file), so a form and
the API refuse a code UiTdatabank would refuse, without asking UiTdatabank. It lives in
the catalog because the event form chooses from it; the listings read it from here.
A code dropped by a later snapshot stays stored and is refused at the next change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SNAPSHOT = Path(__file__).with_name("uitdatabank_types.json")
LANGUAGES = ("nl", "fr", "de", "en")


@dataclass(frozen=True)
class EventType:
    code: str  # the term id, e.g. 0.50.4.0.0
    names: dict[str, str]  # by language: nl, fr, de, en

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names["nl"]


@dataclass(frozen=True)
class Taxonomy:
    snapshot: str  # the date the snapshot was taken, YYYY-MM-DD
    types: dict[str, EventType]


@cache
def taxonomy() -> Taxonomy:
    data = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    types = {term["id"]: EventType(term["id"], dict(term["name"])) for term in data["terms"]}
    return Taxonomy(data["snapshot"], types)


def known(code: str) -> bool:
    return code in taxonomy().types


def event_type(code: str) -> EventType | None:
    return taxonomy().types.get(code)


def checked(code: str) -> str:
    """The code if the snapshot has it (a pydantic validator: ValueError otherwise)."""
    if not known(code):
        raise ValueError("not a UiTdatabank event type of the snapshot " + taxonomy().snapshot)
    return code


def options(language: str) -> list[tuple[str, str]]:
    """(code, name) of every type, by name in `language`: what a select offers."""
    found = [(t.code, t.name(language)) for t in taxonomy().types.values()]
    return sorted(found, key=lambda option: option[1].casefold())
