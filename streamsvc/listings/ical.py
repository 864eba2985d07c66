"""The iCalendar feed of listed events (RFC 5545)."""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.listings.schemas import EventListing

_SEQUENCE_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def calendar(events: list[EventListing], now: datetime) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//streamsvc//livestreams of hybrid performances//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "streamsvc livestreams")
    for event in events:
        entry = CalendarEvent()
        entry.add("uid", f"{event.id}@streamsvc")
        entry.add("dtstamp", now.astimezone(UTC))
        if event.rescheduled_at is not None:
            # RFC 5545: a calendar that holds the event takes the new time only from a
            # higher SEQUENCE. Seconds from 2024 to the last move grow with every move
            # and fit the 32-bit integer calendar programs keep (until 2092).
            entry.add("sequence", int((event.rescheduled_at - _SEQUENCE_EPOCH).total_seconds()))
        entry.add("dtstart", event.starts_at.astimezone(UTC))
        entry.add("dtend", event.ends_at.astimezone(UTC))
        entry.add("summary", event.title)
        if event.description:
            entry.add("description", event.description)
        entry.add("url", event.url)
        where = "Online" if event.attendance_mode == "online" else f"{event.venue.name} and online"
        entry.add("location", where)
        cancelled = event.status == EventStatus.cancelled
        entry.add("status", "CANCELLED" if cancelled else "CONFIRMED")
        cal.add_component(entry)
    ical: bytes = cal.to_ical()
    return ical
