from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_each_dependency(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    for name in ("database", "redis", "broker"):
        assert body["checks"][name]["status"] == "ok"
    # No worker ran a heartbeat in this clean state; readiness does not depend on it.
    assert body["checks"]["worker"]["status"] == "unseen"


@pytest.fixture
def broken_redis_client(settings: Settings) -> Iterator[TestClient]:
    broken = settings.model_copy(
        update={
            "redis_url": "redis://127.0.0.1:1/0",
            "celery_broker_url": None,  # the broker follows the Redis URL
            "readiness_timeout_seconds": 1.0,
        }
    )
    with TestClient(create_app(broken), raise_server_exceptions=False) as client:
        yield client


def test_readyz_is_503_when_redis_and_broker_are_down(broken_redis_client: TestClient) -> None:
    response = broken_redis_client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "down"
    assert body["checks"]["broker"]["status"] == "down"
    assert body["error"]["code"] == "dependency_unavailable"


def test_readyz_is_503_when_the_database_is_down(settings: Settings) -> None:
    broken = settings.model_copy(
        update={
            "database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "readiness_timeout_seconds": 1.0,
        }
    )
    with TestClient(create_app(broken), raise_server_exceptions=False) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["status"] == "down"
    assert body["checks"]["redis"]["status"] == "ok"
    assert "nobody" not in response.text  # no connection details leak


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/no/such/path")
    text = client.get("/metrics").text
    assert 'streamsvc_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert "streamsvc_http_request_duration_seconds_bucket" in text


def test_openapi_describes_the_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"} <= set(spec["paths"])
    readyz = spec["paths"]["/readyz"]["get"]
    assert readyz["responses"]["503"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/Readiness"
    )
    assert "Readiness" in spec["components"]["schemas"]
    assert "ErrorBody" in spec["components"]["schemas"]


def test_docs_load_swagger_ui_over_the_spec(client: TestClient) -> None:
    # Swagger UI renders the operations in the browser (tests/browser/test_docs.py).
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'data-spec-url="/openapi.json"' in response.text
    for script in re.findall(r'<script src="(/static/[^"]+)"', response.text):
        assert client.get(script).status_code == 200
