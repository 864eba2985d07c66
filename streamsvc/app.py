"""create_app(settings): the ASGI application."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pydantic import ValidationError
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

import streamsvc
from config.logging import configure_logging
from config.settings import Settings, load_settings
from streamsvc.actor_names import NAME_SOURCES
from streamsvc.audit import console_pages as audit_console_pages
from streamsvc.audit import routes as audit_routes
from streamsvc.buyers import routes as buyers_routes
from streamsvc.catalog import console_pages as catalog_console_pages
from streamsvc.catalog import routes as catalog_routes
from streamsvc.checkin import pages as checkin_pages
from streamsvc.console import city_pages, uitdatabank_pages, venue_pages
from streamsvc.console import pages as console_pages
from streamsvc.coproductions import pages as coproductions_pages
from streamsvc.coproductions import routes as coproductions_routes
from streamsvc.errors import MethodNotAllowed, NotFound, ServiceError, validation_failed
from streamsvc.finance import console_exports as finance_console_exports
from streamsvc.finance import console_pages as finance_console_pages
from streamsvc.finance import console_reconciliation as finance_console_reconciliation
from streamsvc.finance import export_routes, statement_pages
from streamsvc.finance import routes as finance_routes
from streamsvc.http.metrics import HttpMetrics
from streamsvc.http.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from streamsvc.http.openapi import build_openapi
from streamsvc.http.security import SecurityHeadersMiddleware
from streamsvc.jobs import routes as jobs_routes
from streamsvc.kit.clock import Clock, SystemClock
from streamsvc.kit.shutdown import settle
from streamsvc.ledger import routes as ledger_routes
from streamsvc.listings import pages as listings_pages
from streamsvc.listings import routes as listings_routes
from streamsvc.me import pages as me_pages
from streamsvc.ops import routes as ops_routes
from streamsvc.ops.figures import FigureReader
from streamsvc.orders import buy_form, reschedule_pages
from streamsvc.orders import console_pages as orders_console_pages
from streamsvc.orders import pages as orders_pages
from streamsvc.orders import routes as orders_routes
from streamsvc.passes import buy_pages as passes_buy_pages
from streamsvc.passes import console_pages as passes_console_pages
from streamsvc.passes import pages as passes_pages
from streamsvc.payments import routes as payments_routes
from streamsvc.payments.gateway import PaymentGateway
from streamsvc.payouts import console_pages as payouts_console_pages
from streamsvc.payouts import party_pages as payouts_party_pages
from streamsvc.platform import pages as platform_pages
from streamsvc.platform import routes as platform_routes
from streamsvc.recordings import console_pages as recordings_console_pages
from streamsvc.recordings import pages as recordings_pages
from streamsvc.recordings import routes as recordings_routes
from streamsvc.resources import Resources
from streamsvc.staff import console_pages as staff_console_pages
from streamsvc.staff import pages as staff_pages
from streamsvc.staff import routes as staff_routes
from streamsvc.staff import service as staff_service
from streamsvc.staff.console import ConsoleCaller, console_caller, console_page
from streamsvc.venues import routes as venues_routes
from streamsvc.viewing import pages as viewing_pages
from streamsvc.viewing import recording_pages as viewing_recording_pages
from streamsvc.viewing import recording_routes as viewing_recording_routes
from streamsvc.viewing import routes as viewing_routes
from streamsvc.web import routes as web_routes
from streamsvc.web.errors import error_page
from streamsvc.web.rendering import build_pages
from workers.queue import TaskQueue

log = logging.getLogger(__name__)


def _render(error: ServiceError) -> Response:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _answer(request: Request, error: ServiceError) -> Response:
    # A person's browser gets the error as a page in its language; API clients JSON.
    return error_page(request, error) or _render(error)


def _audit_reader(request: Request, session: Session) -> ConsoleCaller:
    """The console guard of /console/audit: admins, and finance for the money actions."""
    return console_caller(request, session, frozenset({"admin", "finance"}))


def _venue_people(session: Session, venue_id: str) -> list[tuple[str, str]]:
    return [(p.id, p.display_name) for _, p in staff_service.list_members(session, venue_id)]


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return _answer(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _answer(request, NotFound("No such resource."))
    if exc.status_code == 405:
        error = MethodNotAllowed("This method is not allowed on this resource.")
        allow = (exc.headers or {}).get("Allow")
        return _render(
            ServiceError(
                error.message,
                code=error.code,
                status=405,
                headers={"Allow": allow} if allow else None,
            )
        )
    return _render(
        ServiceError(
            str(exc.detail), code="http_error", status=exc.status_code, headers=exc.headers
        )
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    # A pydantic model built inside a service from input the route did not check.
    assert isinstance(exc, ValidationError)
    return _render(validation_failed(exc.errors()))


def create_app(
    settings: Settings,
    clock: Clock | None = None,
    gateway: PaymentGateway | None = None,
    queue: TaskQueue | None = None,
) -> Starlette:
    """Build the application; resources are created in the lifespan, not here."""
    metrics = HttpMetrics()
    clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        resources = Resources.build(settings, metrics, clock, gateway, queue)
        app.state.resources = resources
        listener = asyncio.create_task(resources.viewing.listen())
        try:
            yield
        finally:
            resources.viewing.stop()
            listener.cancel()
            # A subscription torn down mid-read must not hold up shutdown.
            if not await settle(listener, 2):
                log.warning("viewing change listener did not stop within 2 s; left behind")
            await resources.close()

    app = Starlette(
        # The router tries routes in order: the media servers' hot path comes first.
        routes=[
            *viewing_routes.routes,
            *viewing_recording_routes.routes,
            *ops_routes.routes,
            *staff_routes.routes,
            *venues_routes.routes,
            *platform_routes.routes,
            *catalog_routes.routes,
            *coproductions_routes.routes,
            *listings_routes.routes,
            *recordings_routes.routes,
            *orders_routes.routes,
            *payments_routes.routes,
            *jobs_routes.routes,
            *ledger_routes.routes,
            *finance_routes.routes,
            *export_routes.routes,
            *statement_pages.routes,
            *audit_routes.build_routes(NAME_SOURCES),
            *buyers_routes.routes,
            *web_routes.routes,
            *listings_pages.routes,
            *recordings_pages.routes,
            *buy_form.routes,
            *orders_pages.routes,
            *passes_pages.routes,
            *passes_buy_pages.routes,
            # Card tokens confirmed by the server: only while payments are simulated.
            *(orders_pages.simulated_routes if settings.payments_simulated else []),
            *viewing_recording_pages.routes,
            *viewing_pages.routes,
            *staff_pages.routes,
            *staff_console_pages.routes,
            *console_pages.routes,
            *venue_pages.routes,
            *city_pages.routes,
            *catalog_console_pages.routes,
            *recordings_console_pages.routes,
            *coproductions_pages.routes,
            *uitdatabank_pages.routes,
            *orders_console_pages.routes,
            *passes_console_pages.routes,
            *reschedule_pages.routes,
            *checkin_pages.routes,
            *finance_console_pages.routes,
            *finance_console_exports.routes,
            *finance_console_reconciliation.routes,
            *payouts_console_pages.routes,
            *payouts_party_pages.routes,
            *me_pages.routes,
            *platform_pages.routes,
            *audit_console_pages.build_routes(
                NAME_SOURCES, guard=_audit_reader, wrap=console_page, people=_venue_people
            ),
        ],
        middleware=[
            Middleware(SecurityHeadersMiddleware, settings=settings),
            Middleware(
                RequestContextMiddleware, metrics=metrics, quiet_paths=viewing_routes.QUIET_PATHS
            ),
            Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
        exception_handlers={
            ServiceError: _service_error,
            HTTPException: _http_error,
            ValidationError: _validation_error,
        },
        lifespan=lifespan,
    )
    app.state.pages = build_pages(settings)
    app.state.figures = FigureReader()  # the business gauges of /metrics
    app.state.openapi = build_openapi(app.routes, title="streamsvc", version=streamsvc.__version__)
    return app


def create_app_from_env() -> Starlette:
    """Factory for `uvicorn --factory`: read settings, configure logging, build the app."""
    settings = load_settings()
    configure_logging(settings)
    return create_app(settings)
