"""Operational endpoints: liveness, readiness, metrics, the API description."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streamsvc.http.metrics import CONTENT_TYPE_LATEST
from streamsvc.http.openapi import operation
from streamsvc.ops.readiness import check_dependencies, worker_status
from streamsvc.web.rendering import render


class Health(BaseModel):
    status: Literal["ok"] = Field(description="Always `ok`: the process answers.")


class DependencyCheck(BaseModel):
    status: str = Field(
        description="`ok`; `down` (unreachable or too slow); for the worker also `stale`, "
        "`unseen` or `unknown` (informational: it does not make the API unready)."
    )
    latency_ms: float | None = Field(default=None, description="How long the check took.")
    detail: str | None = Field(default=None, description="Why it failed, when it did.")
    last_seen_seconds_ago: float | None = Field(
        default=None, description="The worker only: seconds since its last heartbeat."
    )


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"] = Field(
        description="`ok` when the database, Redis and the broker answer; else `unavailable`."
    )
    checks: dict[str, DependencyCheck] = Field(
        description="Each dependency by name: database, redis, broker, worker."
    )


_HEALTHY = b'{"status":"ok"}'


@operation(summary="The process is up", tags=("operations",), responses={200: Health})
async def healthz(request: Request) -> Response:
    # Pre-encoded: this is also the ceiling the benchmarks compare against.
    return Response(_HEALTHY, media_type="application/json")


@operation(
    summary="Database, Redis and broker are reachable (503 with Retry-After when one is not)",
    tags=("operations",),
    responses={200: Readiness, 503: Readiness},
)
async def readyz(request: Request) -> Response:
    resources = request.app.state.resources
    settings = resources.settings
    checks = await check_dependencies(
        resources.database,
        resources.redis,
        settings.broker_url,
        settings.readiness_timeout_seconds,
    )
    ready = all(check.status == "ok" for check in checks.values())
    body: dict[str, Any] = {
        "status": "ok" if ready else "unavailable",
        "checks": {name: check.as_dict() for name, check in checks.items()},
    }
    # The worker does not gate the API's readiness; it is shown for operators.
    body["checks"]["worker"] = await worker_status(
        resources.redis, settings.worker_heartbeat_seconds
    )
    if ready:
        return JSONResponse(body)
    down = ", ".join(name for name, check in checks.items() if check.status != "ok")
    body["error"] = {"code": "dependency_unavailable", "message": f"Unreachable: {down}."}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


@operation(
    summary="Prometheus metrics: requests summed over this node's API processes, and the "
    "business gauges",
    tags=("operations",),
    responses={200: "text/plain"},
)
async def metrics(request: Request) -> Response:
    resources = request.app.state.resources
    figures = await request.app.state.figures.read(
        resources.database.engine, resources.viewing.audience, resources.settings,
        resources.clock, resources.metrics,
    )  # fmt: skip
    return Response(resources.metrics.render(figures), media_type=CONTENT_TYPE_LATEST)


@operation(summary="This API as OpenAPI 3.1", tags=("operations",), responses={200: None})
async def openapi_json(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


@operation(summary="This API, readable (Swagger UI)", tags=("operations",),
           responses={200: "text/html"})  # fmt: skip
async def docs(request: Request) -> Response:
    # Swagger UI, vendored and started by static/js/docs.js: it reads /openapi.json.
    return render(request, "docs.html", {})


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", docs, methods=["GET"]),
]
