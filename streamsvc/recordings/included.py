"""A recording included with a ticket: an event's tier may include one of the venue's
recordings for its holders for a number of days after the event (`tiers.recording_id`,
`recording_days`; an opera's stream ticket with the recording for 7 days after).

Issuing, on beat (`recordings.include_for_ended_events`): every order of an event
that has ended (`ends_at <= now`) and holds a valid ticket of a tier including a
recording, while `ends_at + days > now`, gets one `recording_access` of kind
`included`: no offer and no rental terms, its window [the event's end, + the days)
set whole at once (recordings/window.py plays it inside that window only). An
access is per order (`recording_access.order_id` is unique), and the order here is
the event's order: should an order hold tickets of two tiers including recordings,
the one of more days is granted (then the lower recording id). Only orders that paid
(paid, or partly refunded: their tickets still play) get one; a ticket suspended by a
dispute gets none until the dispute is won, if the window still runs then. The
recording must be one the venue's holders may watch: published, or withdrawn with
access continuing (what window.py lets play). A draft recording is granted once it is
published, for what remains of the window.

Set-based and idempotent: one SELECT finds a batch of orders due, locking them
(`FOR UPDATE SKIP LOCKED`: a refund or a dispute being recorded for one of them right
now waits for this batch, or this batch skips it until the next run), one INSERT
writes their accesses, `ON CONFLICT (order_id) DO NOTHING`. From then on the access
follows its order as a ticket does (orders/state.py: revoked on a refund, suspended
while disputed).

Each new access is mailed once to the order's e-mail, in the buyer's language,
through the outbox (`IncludedRecordingIssued`, then the task
`recordings.send_included_access`); `recording_access.mailed_at` marks it sent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlmodel import select

from config.settings import Settings
from streamsvc.catalog.models import Event
from streamsvc.db import Database
from streamsvc.kit.ids import new_id, random_token
from streamsvc.notifications.mail import sender_from_settings
from streamsvc.orders.models import Order
from streamsvc.recordings.access import AccessKind, AccessStatus, RecordingAccess
from streamsvc.recordings.events import IncludedRecordingIssued
from streamsvc.recordings.mail import render_access_mail, watch_link
from streamsvc.recordings.models import Recording
from streamsvc.venues.models import Venue

BATCH = 500  # orders issued per unit of work

# The events are found from the tiers that include a recording (indexed), within the
# longest window a tier may give (365 days, the tiers' CHECK).
_DUE = text("""
SELECT o.id, o.venue_id, inc.recording_id, e.ends_at,
       e.ends_at + make_interval(days => inc.recording_days)
  FROM events e
  JOIN orders o ON o.event_id = e.id
 CROSS JOIN LATERAL (
       SELECT ti.recording_id, ti.recording_days
         FROM tickets t
         JOIN tiers ti ON ti.id = t.tier_id
         JOIN recordings r ON r.id = ti.recording_id AND r.venue_id = o.venue_id
        WHERE t.order_id = o.id AND t.status = 'valid'
          AND e.ends_at + make_interval(days => ti.recording_days) > :now
          AND (r.status = 'published'
               OR (r.status = 'withdrawn' AND r.access_continues_after_withdrawal))
        ORDER BY ti.recording_days DESC, ti.recording_id
        LIMIT 1) inc
 WHERE e.id IN (SELECT x.event_id FROM tiers x WHERE x.recording_id IS NOT NULL)
   AND e.ends_at <= :now AND e.ends_at > :now - interval '365 days'
   AND e.status <> 'cancelled'
   AND o.status IN ('paid', 'partially_refunded')
   AND NOT EXISTS (SELECT 1 FROM recording_access a WHERE a.order_id = o.id)
 ORDER BY o.id
 LIMIT :batch
 FOR UPDATE OF o SKIP LOCKED
""")
_ISSUE = text("""
INSERT INTO recording_access (id, code, recording_id, offer_id, order_id, venue_id, kind,
                              status, start_by, watch_hours, started_at, ends_at, mailed_at,
                              created_at, updated_at)
SELECT n.id, n.code, n.recording_id, NULL, n.order_id, n.venue_id, 'included', 'valid',
       NULL, NULL, n.opens_at, n.closes_at, NULL, :now, :now
  FROM unnest(CAST(:ids AS text[]), CAST(:codes AS text[]), CAST(:recordings AS text[]),
              CAST(:orders AS text[]), CAST(:venues AS text[]),
              CAST(:opens AS timestamptz[]), CAST(:closes AS timestamptz[]))
       AS n(id, code, recording_id, order_id, venue_id, opens_at, closes_at)
    ON CONFLICT (order_id) DO NOTHING
RETURNING id
""")


def _access_code() -> str:
    """As a ticket's and a bought access's (orders/settlement.py): 25 base32 characters
    (125 bits) in groups of five, not guessable, still readable aloud."""
    raw = random_token(25)
    return "-".join(raw[i : i + 5] for i in range(0, 25, 5))


def include_for_ended_events(database: Database, now: datetime) -> list[str]:
    """Issue the included accesses due at `now`, a batch per unit of work, each raising
    `IncludedRecordingIssued`; the ids of the accesses issued (none twice, ever)."""
    issued: list[str] = []
    while True:
        with database.unit_of_work() as uow:
            due = uow.session.execute(_DUE, {"now": now, "batch": BATCH}).all()
            if not due:
                return issued
            found = uow.session.execute(_ISSUE, {
                "ids": [new_id("rac") for _ in due], "codes": [_access_code() for _ in due],
                "recordings": [row[2] for row in due], "orders": [row[0] for row in due],
                "venues": [row[1] for row in due], "opens": [row[3] for row in due],
                "closes": [row[4] for row in due], "now": now,
            }).scalars().all()  # fmt: skip
            for access_id in found:
                uow.emit(IncludedRecordingIssued(str(access_id)))
            issued.extend(str(access_id) for access_id in found)
        if len(due) < BATCH:
            return issued


def mail_included(database: Database, settings: Settings, access_id: str, now: datetime) -> bool:
    """Mail an included access's watch link to its order's e-mail once; False when there
    is nothing to send (not an included access, no longer valid, its window over,
    mailed before).

    The access's row stays locked from the check to the mark (`mailed_at`), across the
    send, as for a bought access's mail (mail.py): a second attempt waits, then finds
    it mailed."""
    with database.unit_of_work() as uow:
        session = uow.session
        access = session.exec(
            select(RecordingAccess).where(RecordingAccess.id == access_id).with_for_update()
        ).first()
        if (access is None or access.kind is not AccessKind.included
                or access.mailed_at is not None or access.status is not AccessStatus.valid
                or access.ends_at is None or now >= access.ends_at):  # fmt: skip
            return False
        order = session.get(Order, access.order_id)
        assert order is not None and order.event_id is not None
        event = session.get(Event, order.event_id)
        recording = session.get(Recording, access.recording_id)
        venue = session.get(Venue, access.venue_id)
        assert event is not None and recording is not None and venue is not None
        message = render_access_mail(
            to=order.email, locale=order.locale, access=access, title=recording.title,
            venue=venue, link=watch_link(settings, access.id, access.code), order_id=order.id,
            sender=settings.mail_from, now=now, event_title=event.title,
        )  # fmt: skip
        # A failed send raises: the lock is released by the rollback, nothing marked.
        sender_from_settings(settings).send(message)
        access.mailed_at = now
        session.add(access)
    return True
