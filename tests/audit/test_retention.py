"""Retention: personal data past STREAMSVC_RETENTION_DAYS is cleared by a beat task."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.buyers.retention import apply_retention
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.notifications.mail import OutboxSender
from tests.factories import buy, ok
from tests.orders import scenarios as s
from workers.base import WorkerResources
from workers.celery_app import create_celery
from workers.schedule import beat_schedule


def _counts(database: Database) -> dict[str, int]:
    queries = {
        "payloads": "SELECT count(*) FROM stripe_events WHERE payload <> '{}'::jsonb",
        "events": "SELECT count(*) FROM stripe_events",
        "outbox": "SELECT count(*) FROM outbox_messages",
        "idempotency": "SELECT count(*) FROM idempotency_keys",
    }
    with database.engine.connect() as conn:
        return {name: int(conn.execute(text(q)).scalar_one()) for name, q in queries.items()}


def _mail(directory: Path, clock: FixedClock) -> None:
    message = EmailMessage()
    message["To"] = "buyer@example.org"
    message.set_content("your tickets")
    OutboxSender(directory, clock).send(message)


def _paid(client: TestClient, database: Database, clock: FixedClock, shop: Any) -> Any:
    _, event, tier_id = shop
    body = {"email": "buyer@example.org", "country": "NL",
            "items": [{"tier_id": tier_id, "quantity": 1}]}  # fmt: skip
    order = ok(client.post(f"/v1/public/events/{event['id']}/orders", json=body,
                           headers={"Idempotency-Key": "once"}), 201)  # fmt: skip
    s.deliver(client, s.succeeded(order))
    s.drain(database, clock)
    return order


def test_old_personal_data_is_cleared_and_the_rest_kept(
    client: TestClient, database: Database, clock: FixedClock, shop: Any,
    settings: Settings, tmp_path: Path,
) -> None:  # fmt: skip
    days = settings.retention_days
    assert days == 90  # the documented default
    _paid(client, database, clock, shop)
    _mail(tmp_path, clock)
    before = _counts(database)
    assert before["payloads"] == 1 and before["outbox"] > 0 and before["idempotency"] == 1

    # A day short of the period: nothing goes.
    almost = clock.now() + timedelta(days=days - 1)
    with database.unit_of_work() as uow:
        kept = apply_retention(uow.session, almost, days, mail_dir=tmp_path)
    assert (kept.webhook_payloads, kept.outbox_messages, kept.idempotency_records,
            kept.mails) == (0, 0, 0, 0)  # fmt: skip
    assert _counts(database) == before

    # Meanwhile a webhook arrives that is not processed yet: kept whatever its age.
    later = buy(client, shop[1]["id"], shop[2], email="late@example.org")
    clock.advance(days=days + 1)
    s.deliver(client, s.succeeded(later))
    _mail(tmp_path, clock)

    past = clock.now() + timedelta(days=1)
    with database.unit_of_work() as uow:
        done = apply_retention(uow.session, past, days, mail_dir=tmp_path)
    assert (done.webhook_payloads, done.idempotency_records, done.mails) == (1, 1, 1)
    assert done.outbox_messages >= before["outbox"]  # and what placing `later` applied
    with database.engine.connect() as conn:
        left = conn.execute(text("SELECT done_at FROM outbox_messages")).scalars().all()
    assert all(at is None or at >= past - timedelta(days=days) for at in left)
    after = _counts(database)
    # The old payload is emptied, its row kept (its id still stops a redelivery).
    assert (after["payloads"], after["events"], after["idempotency"]) == (1, 2, 0)
    with database.engine.connect() as conn:
        waiting = conn.execute(text("SELECT status FROM stripe_events "
                                    "WHERE payload <> '{}'::jsonb")).scalar_one()  # fmt: skip
    assert waiting == "received"
    assert len(list(tmp_path.glob("*.eml"))) == 1  # the recent mail stays

    # Running again changes nothing.
    with database.unit_of_work() as uow:
        again = apply_retention(uow.session, past, days, mail_dir=tmp_path)
    assert (again.webhook_payloads, again.outbox_messages, again.idempotency_records,
            again.mails) == (0, 0, 0, 0)  # fmt: skip


def test_beat_runs_retention_as_a_task_without_arguments(
    client: TestClient, database: Database, clock: FixedClock, shop: Any, settings: Settings
) -> None:
    entry = beat_schedule(settings)["apply-retention"]
    assert (entry["task"], entry.get("args", ())) == ("buyers.apply_retention", ())
    _paid(client, database, clock, shop)
    short = settings.model_copy(update={"retention_days": 1})
    app = create_celery(short)
    app.loader.import_default_modules()
    app.streamsvc_resources = WorkerResources(short, app, clock)
    clock.advance(days=2)
    try:
        cleared = app.tasks["buyers.apply_retention"].apply().get()
        assert cleared > 0
        assert _counts(database)["payloads"] == 0
        assert app.tasks["buyers.apply_retention"].apply().get() == 0
    finally:
        app.streamsvc_resources.database.dispose()
