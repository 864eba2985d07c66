"""Finance tasks: a reconciliation job, and beat's reconciliation of recent activity."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from sqlmodel import select

from streamsvc.finance import export_jobs, reconciliation
from streamsvc.finance.events import ReconciliationRequested
from streamsvc.finance.payouts_stripe import collect_payouts, post_payout
from streamsvc.finance.recent import start_recent_jobs
from streamsvc.finance.reconciliation import Outcome
from streamsvc.finance.subjects import Kind
from streamsvc.jobs.models import FINISHED_JOB, Job, JobStatus
from streamsvc.payments.gateway import PaymentProviderUnavailable
from workers.base import StreamsvcTask
from workers.tasks.payments import MONEY

log = logging.getLogger(__name__)


@shared_task(name="finance.reconcile", max_retries=10, **MONEY)  # type: ignore[untyped-decorator]
def reconcile(self: StreamsvcTask, job_id: str) -> None:
    """Reconcile the events and recordings of a job (`result.events`, `.recordings`);
    safe to run again."""
    resources = self.resources
    with self.unit_of_work() as uow:
        job = uow.session.exec(select(Job).where(Job.id == job_id).with_for_update()).one()
        if job.status in FINISHED_JOB:
            return
        job.status, job.updated_at = JobStatus.running, resources.clock.now()
        uow.session.add(job)
        events: list[str] = list(job.result.get("events", []))
        recordings: list[str] = list(job.result.get("recordings", []))
        period = job.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    totals, finished = Outcome(), 0

    def progress(done: int, total: int) -> None:
        _update(self, job_id, done=finished + done, total=finished + total)

    try:
        subjects: list[tuple[Kind, str]] = [("event", event) for event in events]
        subjects += [("recording", recording) for recording in recordings]
        for kind, subject_id in subjects:
            outcome = reconciliation.reconcile(
                resources.database, resources.gateway, kind, subject_id, resources.clock.now(),
                period=period, progress=progress,
            )  # fmt: skip
            totals.add(outcome)
            finished += outcome.asked
    except Exception as exc:
        if self.request.retries >= self.max_retries:
            _update(self, job_id, status=JobStatus.failed, error=repr(exc)[:2000])
            raise
        raise self.retry(exc=exc, countdown=min(600, 10 * 2**self.request.retries)) from exc
    _update(self, job_id, status=JobStatus.succeeded, done=finished, total=finished,
            result={"events": events, "recordings": recordings, **vars(totals)})  # fmt: skip


@shared_task(name="finance.post_stripe_payout", max_retries=10, **MONEY)  # type: ignore[untyped-decorator]
def post_stripe_payout(self: StreamsvcTask, payout_id: str) -> int:
    """Post a Stripe payout per venue as Stripe last reported it; safe to run again."""
    resources = self.resources
    try:
        posted = post_payout(resources.database, resources.gateway, payout_id,
                             resources.clock.now())  # fmt: skip
    except PaymentProviderUnavailable as exc:  # Stripe did not answer: it will
        raise self.retry(exc=exc, countdown=min(600, 10 * 2**self.request.retries)) from exc
    return posted.posted


def _update(self: StreamsvcTask, job_id: str, **fields: Any) -> None:
    with self.unit_of_work() as uow:
        job = uow.session.exec(select(Job).where(Job.id == job_id).with_for_update()).one()
        for name, value in fields.items():
            setattr(job, name, value)
        job.updated_at = self.resources.clock.now()
        uow.session.add(job)


@shared_task(name="finance.reconcile_recent", **MONEY)  # type: ignore[untyped-decorator]
def reconcile_recent(self: StreamsvcTask) -> int:
    """Start a reconciliation job for every event with recent money activity, then post
    the recent Stripe payouts the ledger does not hold yet."""
    resources = self.resources
    lookback = timedelta(hours=resources.settings.reconcile_lookback_hours)
    with self.unit_of_work() as uow:
        started = start_recent_jobs(uow.session, resources.gateway, resources.clock.now(),
                                    lookback)  # fmt: skip
        for job_id in started:
            uow.emit(ReconciliationRequested(job_id))
    try:
        payouts = collect_payouts(
            resources.database, resources.gateway, resources.clock.now(),
            timedelta(days=resources.settings.stripe_payout_lookback_days),
        )  # fmt: skip
    except PaymentProviderUnavailable:
        log.warning("Stripe unavailable: payouts not collected; the next run lists them again")
    else:
        if payouts.due:
            log.info("payouts collected from Stripe's list: %s", vars(payouts))
    return len(started)


# Not money, but as safe to run twice: the same delivery guarantees.
@shared_task(name="finance.build_export", max_retries=5, **MONEY)  # type: ignore[untyped-decorator]
def build_export(self: StreamsvcTask, job_id: str) -> bool:
    """Write an export job's XLSX file into PostgreSQL; a job with its file is not run
    again (so a task delivered twice writes one file)."""
    resources = self.resources
    try:
        return export_jobs.build_export(
            resources.database, job_id, resources.clock.now(),
            link_hours=resources.settings.export_link_hours,
        )  # fmt: skip
    except Exception as exc:
        if self.request.retries >= self.max_retries:
            export_jobs.fail_export(resources.database, job_id, repr(exc), resources.clock.now())
            raise
        raise self.retry(exc=exc, countdown=min(600, 10 * 2**self.request.retries)) from exc


@shared_task(  # type: ignore[untyped-decorator]
    base=StreamsvcTask, bind=True, name="finance.delete_expired_exports", ignore_result=True
)
def delete_expired_exports(self: StreamsvcTask) -> int:
    """Delete the export files whose download link has expired; how many."""
    with self.unit_of_work() as uow:
        return export_jobs.delete_expired(uow.session, self.resources.clock.now())
