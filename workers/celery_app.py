"""create_celery(settings): the Celery app of the worker, beat and the API (to enqueue)."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_ready

from config.celery import celery_config
from config.settings import Settings
from streamsvc.kit.context import request_id_var
from workers.base import WorkerResources
from workers.schedule import beat_schedule

# Modules whose tasks the worker registers (each holds thin wrappers around services).
TASK_MODULES = [
    "workers.tasks.ops",
    "workers.tasks.catalog",
    "workers.tasks.orders",
    "workers.tasks.passes",
    "workers.tasks.recording_mail",
    "workers.tasks.payments",
    "workers.tasks.finance",
    "workers.tasks.outbox",
    "workers.tasks.retention",
    "workers.tasks.staff",
    "workers.tasks.viewing",
    "workers.tasks.payouts",
    "workers.tasks.me",
    "workers.tasks.listings",
]


def create_celery(settings: Settings) -> Celery:
    app = Celery("streamsvc", set_as_current=True)
    app.conf.update(celery_config(settings))
    app.conf.beat_schedule = beat_schedule(settings)
    app.conf.include = TASK_MODULES
    app.streamsvc_resources = WorkerResources(settings, app)
    worker_ready.connect(_announce_worker, weak=False, dispatch_uid="streamsvc-announce")
    task_prerun.connect(_bind_task_id, weak=False, dispatch_uid="streamsvc-task-id")
    task_postrun.connect(_unbind_task_id, weak=False, dispatch_uid="streamsvc-task-id")
    return app


def _announce_worker(sender: Any = None, **_: Any) -> None:
    # Record a heartbeat at once instead of waiting a beat interval.
    sender.app.send_task("ops.worker_heartbeat")


def _bind_task_id(task_id: str | None = None, **_: Any) -> None:
    # Log lines of a task carry its id where a request's carry the request id.
    request_id_var.set(task_id)


def _unbind_task_id(**_: Any) -> None:
    request_id_var.set(None)
