"""The iCalendar feed of listed events (RFC 5545)."""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.listings.schemas import EventListing


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
