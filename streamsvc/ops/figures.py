"""The business gauges /metrics shows beside the request metrics, read at each scrape.

They are the same whichever API process reads them, so the process that answers the
scrape reads them and hands them to the rendering (streamsvc/http/metrics.py): never
written to the multiprocess files, never summed over a node's workers.

What each costs, per scrape (one PostgreSQL connection from the pool, the counts under
a statement timeout, then one Redis round trip):

- viewers_watching: the events whose viewing window is open (one pass over `events`),
  then a pipelined ZCOUNT of each one's `live` set, O(log n) each
  (viewing/audience_now.py);
- orders_paid_last_minute: orders paid in the last 60 s among those placed in the last
  day: a range of `ix_orders_created_at`, the day's orders;
- webhook_inbox_backlog: Stripe events `received`, not yet processed: a range of
  `ix_stripe_events_status`, the backlog's rows;
- outbox_backlog: outbox messages without `done_at`: the partial index `outbox_due`,
  the backlog's rows;
- reconciliation_findings_open: findings without an acknowledgement: every finding,
  against the acknowledgements' primary key.

An order is paid within its reservation, or when the expiry task finds its payment
succeeded; only one whose payment reached us more than a day after it was placed
(Stripe unreachable all that time) is missed by `orders_paid_last_minute`.

A source that does not answer within the readiness timeout (or fails) leaves its gauges
out of that scrape, never the whole answer: `streamsvc_metrics_scrape_errors_total`
counts each gauge left out, and the log says so once per outage.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import Engine, func
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from config.settings import Settings
from streamsvc.errors import DependencyUnavailable
from streamsvc.finance.models import FindingAcknowledgement
from streamsvc.http.metrics import HttpMetrics
from streamsvc.kit.clock import Clock
from streamsvc.kit.outage import Outage
from streamsvc.ledger.models import ReconciliationFinding
from streamsvc.orders.models import Order
from streamsvc.outbox.models import OutboxMessage
from streamsvc.payments.models import StripeEvent, StripeEventStatus
from streamsvc.viewing import audience_now
from streamsvc.viewing.audience import EventAudience

log = logging.getLogger(__name__)

GAUGES: dict[str, str] = {
    "viewers_watching": "Viewing sessions seen within a token's lifetime (plus the clock-skew "
    "leeway), over the events whose viewing window is open.",
    "orders_paid_last_minute": "Orders paid in the last 60 seconds.",
    "webhook_inbox_backlog": "Stripe events received and not yet processed.",
    "outbox_backlog": "Durable domain events not yet applied (outbox messages not done).",
    "reconciliation_findings_open": "Reconciliation findings nobody has acknowledged yet.",
}
PAID_WITHIN = timedelta(seconds=60)
# How long after it was placed an order's payment can still be recorded, for counting
# (see the module's docstring): it bounds the index range read.
PAID_AFTER_PLACED = timedelta(days=1)


def _orders_paid_last_minute(session: Session, now: datetime) -> int:
    return session.exec(
        select(func.count()).select_from(Order).where(
            col(Order.created_at) >= now - PAID_AFTER_PLACED,
            col(Order.paid_at) > now - PAID_WITHIN,
        )
    ).one()  # fmt: skip


def _webhook_inbox_backlog(session: Session, now: datetime) -> int:
    return session.exec(
        select(func.count()).select_from(StripeEvent)
        .where(col(StripeEvent.status) == StripeEventStatus.received)
    ).one()  # fmt: skip


def _outbox_backlog(session: Session, now: datetime) -> int:
    return session.exec(
        select(func.count()).select_from(OutboxMessage).where(col(OutboxMessage.done_at).is_(None))
    ).one()


def _reconciliation_findings_open(session: Session, now: datetime) -> int:
    acknowledged = col(FindingAcknowledgement.finding_id)
    return session.exec(
        select(func.count()).select_from(ReconciliationFinding)
        .join(FindingAcknowledgement, acknowledged == col(ReconciliationFinding.id),
              isouter=True)
        .where(acknowledged.is_(None))
    ).one()  # fmt: skip


_COUNTS: dict[str, Callable[[Session, datetime], int]] = {
    "orders_paid_last_minute": _orders_paid_last_minute,
    "webhook_inbox_backlog": _webhook_inbox_backlog,
    "outbox_backlog": _outbox_backlog,
    "reconciliation_findings_open": _reconciliation_findings_open,
}


@dataclass(frozen=True, eq=False)  # a collector is registered by identity
class Figures:
    """The gauges read in one scrape; those left out are absent."""

    values: dict[str, int]

    def collect(self) -> Iterator[Metric]:
        for name, value in self.values.items():
            yield GaugeMetricFamily(f"streamsvc_{name}", GAUGES[name], value=value)


@dataclass
class _Read:
    values: dict[str, int]
    failed: list[str]
    open_events: list[str] | None  # None: not known
    error: Exception | None = None


def _from_database(engine: Engine, now: datetime, within: timedelta, timeout_ms: int) -> _Read:
    names = [*_COUNTS, "viewers_watching"]
    with Session(engine) as session:
        try:
            session.connection()
        except SQLAlchemyError as exc:
            return _Read({}, names, None, exc)
        read, limited = _Read({}, [], None), False
        for position, name in enumerate(names):
            try:
                if not limited:  # for this transaction: the rest of the scrape's reads
                    session.execute(select(func.set_config("statement_timeout",
                                                           str(timeout_ms), True)))  # fmt: skip
                    limited = True
                if name == "viewers_watching":
                    read.open_events = audience_now.events_open_for_viewing(session, now, within)
                else:
                    read.values[name] = _COUNTS[name](session, now)
            except SQLAlchemyError as exc:
                # Reads only, never committed: rolled back, the next read starts clean.
                session.rollback()
                limited = False
                read.failed.append(name)
                read.error = exc
                if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                    # The connection is gone: the next read would wait for another.
                    read.failed.extend(names[position + 1 :])
                    break
    return read


class FigureReader:
    """Reads the business gauges for a scrape; one per API process."""

    def __init__(self) -> None:
        self.database = Outage("PostgreSQL (business gauges of /metrics)", log,
                               "those gauges are left out of /metrics")  # fmt: skip
        self.redis = Outage("Redis (viewers watching, of /metrics)", log,
                            "streamsvc_viewers_watching is left out of /metrics")  # fmt: skip

    async def read(
        self, engine: Engine, audience: EventAudience, settings: Settings, clock: Clock,
        metrics: HttpMetrics,
    ) -> Figures:  # fmt: skip
        now, timeout = clock.now(), settings.readiness_timeout_seconds
        within = audience_now.seen_within(settings)
        try:
            read = await asyncio.wait_for(
                run_in_threadpool(_from_database, engine, now, within, int(timeout * 1000)),
                timeout,
            )
        except TimeoutError as exc:
            read = _Read({}, [*_COUNTS, "viewers_watching"], None, exc)
        if read.error is not None:
            self.database.began(read.error)
        elif self.database.down:
            self.database.over()
        values = read.values
        if read.open_events is not None:
            try:
                values["viewers_watching"] = await asyncio.wait_for(
                    audience_now.viewers_watching(audience, read.open_events, now, within),
                    timeout,
                )
            except (DependencyUnavailable, TimeoutError) as exc:
                read.failed.append("viewers_watching")
                self.redis.began(exc.__cause__ or exc)
            else:
                if self.redis.down:
                    self.redis.over()
        for name in read.failed:
            metrics.scrape_failed(name)
        return Figures({name: values[name] for name in GAUGES if name in values})
