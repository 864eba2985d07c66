"""What money is paid for: an event, or a recording of the archive.

Both are sold through orders paid in Stripe, and their money takes the same road:
collected from Stripe (collect.py), posted (posting.py), split under the versioned
rule it was sold with (splitting.py), checked (reconciliation.py), then exported and
paid out. The rows of that road (orders, balance transactions, ledger transactions,
split postings) name their subject in one of two columns, `event_id` or
`recording_id` (never both: checks of migration 0031), and its accounts carry its id
(`sales:{id}`, …; the ids' prefixes keep events and recordings apart).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlmodel import Session

from streamsvc.catalog.models import Event
from streamsvc.recordings.models import Recording

Kind = Literal["event", "recording"]


@dataclass(frozen=True)
class Subject:
    kind: Kind
    id: str
    venue_id: str
    currency: str

    @property
    def column(self) -> str:
        """The column naming this subject in orders and the finance tables. Only ever
        one of two constants, so it may be formatted into SQL."""
        return "event_id" if self.kind == "event" else "recording_id"

    def columns(self) -> dict[str, str | None]:
        """Both columns, for a row written for this subject."""
        return {"event_id": self.id if self.kind == "event" else None,
                "recording_id": self.id if self.kind == "recording" else None}  # fmt: skip


def of_event(event: Event) -> Subject:
    return Subject("event", event.id, event.venue_id, event.currency)


def of_recording(recording: Recording) -> Subject:
    return Subject("recording", recording.id, recording.venue_id, recording.currency)


def load(session: Session, kind: Kind, subject_id: str) -> Subject | None:
    if kind == "event":
        event = session.get(Event, subject_id)
        return of_event(event) if event is not None else None
    recording = session.get(Recording, subject_id)
    return of_recording(recording) if recording is not None else None
