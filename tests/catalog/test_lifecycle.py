"""live and ended follow the clock: computed on read, persisted by the beat task, the same."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import Session, select

from streamsvc.catalog.events import advance_states
from streamsvc.catalog.lifecycle import EventStatus, effective_status, status_condition
from streamsvc.catalog.models import Event

T0 = datetime(2027, 1, 1, tzinfo=UTC)
STORED = [s.value for s in EventStatus]


def _event(i: int, status: str, starts: int, length: int) -> Event:
    return Event(
        id=f"evt_prop{i}", venue_id="ven_prop", title="t", starts_at=T0 + timedelta(hours=starts),
        ends_at=T0 + timedelta(hours=starts + length), timezone="UTC", attendance_mode="online",
        currency="EUR", doors_open_minutes=0, replay_hours=0, allowed_countries=[],
        status=status, created_at=T0, updated_at=T0,
    )  # fmt: skip


events_strategy = st.lists(
    st.tuples(st.sampled_from(STORED), st.integers(-48, 48), st.integers(1, 12)),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=events_strategy, at=st.integers(-60, 60))
def test_reads_queries_and_the_beat_task_agree(engine: Any, specs: list[Any], at: int) -> None:
    now = T0 + timedelta(hours=at)
    with Session(engine) as session:
        session.execute(text("TRUNCATE events, venues CASCADE"))
        session.execute(text(
            "INSERT INTO venues VALUES ('ven_prop', 'v', 'v', 'NL', 'EUR', 'UTC', now())"
        ))  # fmt: skip
        events = [_event(i, *spec) for i, spec in enumerate(specs)]
        session.add_all(events)
        session.commit()
        computed = {e.id: effective_status(e.status, e.starts_at, e.ends_at, now) for e in events}
        # The SQL filter selects exactly the events whose computed status matches.
        for status in EventStatus:
            found = set(session.exec(select(Event.id).where(status_condition(status, now))))
            assert found == {i for i, s in computed.items() if s is status}
        # Persisting the clock's verdict changes no reader's answer, and is idempotent.
        advance_states(session, now)
        session.commit()
        assert advance_states(session, now) == 0
        for event in session.exec(select(Event)):
            assert EventStatus(event.status) is computed[event.id]
        session.execute(text("TRUNCATE events, venues CASCADE"))
        session.commit()


@pytest.mark.worker
def test_the_beat_task_runs_on_a_real_worker(
    engine: Any, clean_state: None, celery_app: Any, worker: Any
) -> None:
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.execute(text(
            "INSERT INTO venues VALUES ('ven_prop', 'v', 'v', 'NL', 'EUR', 'UTC', now())"
        ))  # fmt: skip
        event = _event(0, "on_sale", 0, 2)
        event.starts_at, event.ends_at = now - timedelta(hours=1), now + timedelta(hours=1)
        session.add(event)
        session.commit()
    celery_app.send_task("catalog.advance_event_states")
    deadline = time.monotonic() + 30
    status = "on_sale"
    while time.monotonic() < deadline and status != "live":
        with Session(engine) as session:
            status = session.exec(select(Event.status)).one()
        time.sleep(0.1)
    assert status == "live"
