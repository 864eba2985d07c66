"""The money tasks are redelivered when their worker dies mid-task.

`acks_late` alone acknowledges a message whose worker process was killed (OOM, SIGKILL):
the task's work is then lost. `reject_on_worker_lost` puts it back on the queue. Both are
Task attributes; the `task_`-prefixed names are global settings, ignored as options.
"""

from __future__ import annotations

import importlib
from typing import Any

from config.settings import Settings
from workers.celery_app import TASK_MODULES, create_celery

MONEY_TASKS = ("payments.process_stripe_event", "payments.submit_refund",
               "finance.reconcile", "orders.send_tickets", "orders.run_cancellation",
               "passes.absorb_outside_changes")  # fmt: skip


def _tasks(settings: Settings) -> dict[str, Any]:
    app = create_celery(settings)
    for module in TASK_MODULES:
        importlib.import_module(module)
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_every_late_acking_task_is_rejected_back_to_the_queue_on_a_lost_worker(
    settings: Settings,
) -> None:
    tasks = _tasks(settings)
    assert set(MONEY_TASKS) <= set(tasks)
    for name in MONEY_TASKS:
        assert tasks[name].acks_late, name
    late = [name for name, task in tasks.items() if task.acks_late]
    lost = [name for name in late if not tasks[name].reject_on_worker_lost]
    assert not lost, f"acks_late without reject_on_worker_lost: {lost}"
