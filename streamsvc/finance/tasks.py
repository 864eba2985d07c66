"""Finance tasks."""

from __future__ import annotations

from celery import shared_task
from sqlmodel import select

from streamsvc.finance.reconciliation import reconcile_event
from streamsvc.jobs.models import Job
from streamsvc.payments.tasks import MONEY
from workers.base import StreamsvcTask


@shared_task(name="finance.reconcile_event", max_retries=10, **MONEY)  # type: ignore[untyped-decorator]
def reconcile(self: StreamsvcTask, job_id: str) -> None:
    """Post an event's charges and refunds as Stripe reports them; safe to run again."""
    resources = self.resources
    with self.unit_of_work() as uow:
        job = uow.session.exec(select(Job).where(Job.id == job_id).with_for_update()).one()
        if job.status == "succeeded" or job.subject_id is None:
            return
        job.status, job.updated_at = "running", resources.clock.now()
        uow.session.add(job)
        event_id = job.subject_id
    try:
        outcome = reconcile_event(resources.database, resources.gateway, event_id,
                                  resources.clock.now())  # fmt: skip
    except Exception as exc:
        raise self.retry(exc=exc, countdown=min(600, 10 * 2**self.request.retries)) from exc
    with self.unit_of_work() as uow:
        job = uow.session.exec(select(Job).where(Job.id == job_id).with_for_update()).one()
        job.status, job.updated_at = "succeeded", resources.clock.now()
        job.done = job.total = outcome.charges + outcome.refunds
        job.result = {"charges_posted": outcome.charges, "refunds_posted": outcome.refunds,
                      "findings": outcome.findings}  # fmt: skip
        uow.session.add(job)
