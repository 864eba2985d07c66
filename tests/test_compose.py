"""docker-compose.yml is valid and speaks the settings' language (no Docker engine here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from config.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SETTING_NAMES = {f"STREAMSVC_{name.upper()}" for name in Settings.model_fields}


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def _env_example() -> dict[str, str]:
    pairs = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key] = value
    return pairs


def test_services_and_profiles() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "redis", "api", "worker", "beat", "localstripe"}
    assert services["localstripe"]["profiles"] == ["demo"]
    for name in ("postgres", "redis", "api", "worker", "beat"):
        assert "profiles" not in services[name]


def test_every_service_has_a_healthcheck() -> None:
    for name, service in _compose()["services"].items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_volumes_are_named_and_declared() -> None:
    compose = _compose()
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in declared, f"{name} mounts undeclared volume {source}"


def test_app_services_wait_for_healthy_dependencies() -> None:
    services = _compose()["services"]
    for name in ("api", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert services[name]["env_file"] == ".env"


def test_env_example_names_only_real_settings() -> None:
    names = set(_env_example())
    assert names <= SETTING_NAMES, f"unknown settings: {names - SETTING_NAMES}"
    required = {
        "STREAMSVC_DATABASE_URL", "STREAMSVC_REDIS_URL", "STREAMSVC_CELERY_BROKER_URL",
        "STREAMSVC_STRIPE_API_KEY", "STREAMSVC_STRIPE_API_BASE", "STREAMSVC_STRIPE_WEBHOOK_SECRETS",
        "STREAMSVC_TOKEN_KEYS", "STREAMSVC_TOKEN_SIGNING_KEY_ID", "STREAMSVC_PLATFORM_KEY",
        "STREAMSVC_ENV", "STREAMSVC_DATA_DIR",
    }  # fmt: skip
    assert required <= names


def test_env_example_builds_valid_settings() -> None:
    values: dict[str, Any] = {
        k.removeprefix("STREAMSVC_").lower(): v for k, v in _env_example().items() if v
    }
    settings = Settings(**values)
    assert settings.database_url is not None
    assert settings.database_url.endswith("@postgres:5432/streamsvc")


def test_compose_mentions_no_unknown_setting() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    mentioned = set(re.findall(r"STREAMSVC_[A-Z_]+", text))
    assert mentioned <= SETTING_NAMES, f"unknown settings: {mentioned - SETTING_NAMES}"
