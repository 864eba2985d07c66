from __future__ import annotations

import pytest
from pydantic import ValidationError

from config.settings import DEV_PLATFORM_KEY, Settings, SettingsError, load_settings

STRONG = "x" * 40


def production(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "env": "production",
        "database_url": "postgresql://db/streamsvc",
        "redis_url": "redis://cache:6379/0",
        "stripe_api_key": "sk_live_abc",
        "stripe_webhook_secrets": "whsec_a,whsec_b",
        "token_keys": f"k2025:{STRONG}",
        "token_signing_key_id": "k2025",
        "platform_key": STRONG,
    }
    values.update(overrides)
    return values


def test_reads_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMSVC_REDIS_URL", "redis://r:6379/1")
    monkeypatch.setenv("STREAMSVC_STRIPE_WEBHOOK_SECRETS", "whsec_old, whsec_new")
    monkeypatch.setenv("STREAMSVC_TOKEN_KEYS", "old:aaaa,new:bbbb")
    monkeypatch.setenv("STREAMSVC_TOKEN_SIGNING_KEY_ID", "new")
    settings = Settings()
    assert settings.redis_url == "redis://r:6379/1"
    assert [s.get_secret_value() for s in settings.stripe_webhook_secrets] == [
        "whsec_old",
        "whsec_new",
    ]
    assert {k: v.get_secret_value() for k, v in settings.token_keys.items()} == {
        "old": "aaaa",
        "new": "bbbb",
    }


def test_token_keys_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMSVC_TOKEN_KEYS", '{"a": "s1", "b": "s2"}')
    monkeypatch.setenv("STREAMSVC_TOKEN_SIGNING_KEY_ID", "b")
    assert set(Settings().token_keys) == {"a", "b"}


def test_signing_key_must_be_one_of_the_keys() -> None:
    with pytest.raises(ValidationError, match="STREAMSVC_TOKEN_SIGNING_KEY_ID"):
        Settings(token_keys="a:s1", token_signing_key_id="b")


def test_malformed_token_keys_are_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(token_keys="no-separator")


def test_broker_defaults_to_the_redis_url() -> None:
    assert Settings(redis_url="redis://r:6379/2").broker_url == "redis://r:6379/2"
    assert Settings(redis_url="unix:///run/r.sock").broker_url == "redis+socket:///run/r.sock"
    explicit = Settings(redis_url="redis://r/0", celery_broker_url="amqp://guest@mq//")
    assert explicit.broker_url == "amqp://guest@mq//"


def test_missing_url_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="STREAMSVC_DATABASE_URL"):
        Settings().require("database_url")


def test_production_accepts_real_secrets() -> None:
    assert load_settings(**production()).is_production


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"stripe_api_key": None}, "STREAMSVC_STRIPE_API_KEY"),
        ({"database_url": None}, "STREAMSVC_DATABASE_URL"),
        ({"redis_url": None}, "STREAMSVC_REDIS_URL"),
        ({"platform_key": DEV_PLATFORM_KEY}, "STREAMSVC_PLATFORM_KEY"),
        ({"platform_key": "short"}, "STREAMSVC_PLATFORM_KEY"),
        (
            {"stripe_webhook_secrets": "whsec_streamsvc_development_not_secret"},
            "STREAMSVC_STRIPE_WEBHOOK_SECRETS",
        ),
        (
            {
                "token_keys": "dev:streamsvc-development-token-key-not-secret",
                "token_signing_key_id": "dev",
            },
            "STREAMSVC_TOKEN_KEYS",
        ),
    ],
)
def test_production_refuses_missing_or_default_secrets(
    overrides: dict[str, object], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(**production(**overrides))


def test_production_reports_every_problem_at_once() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env="production")
    for name in ("DATABASE_URL", "REDIS_URL", "STRIPE_API_KEY", "PLATFORM_KEY", "TOKEN_KEYS"):
        assert f"STREAMSVC_{name}" in str(info.value)


def test_secrets_do_not_leak_into_repr() -> None:
    settings = Settings(**production())  # type: ignore[arg-type]
    assert STRONG not in repr(settings)
    assert "sk_live_abc" not in repr(settings)


def test_a_redis_cluster_needs_a_broker_of_its_own() -> None:
    # The broker would default to the Redis URL, a node of the cluster, which kombu
    # cannot use: refused, naming the setting to give.
    with pytest.raises(ValidationError, match="needs STREAMSVC_CELERY_BROKER_URL set to a broker"):
        Settings(redis_cluster=True, redis_url="redis://node-a:7000")
    with pytest.raises(ValidationError, match="Celery cannot use a Redis Cluster"):
        Settings(redis_cluster=True, redis_url="redis://node-a:7000",
                 celery_broker_url="redis://node-a:7000/0")  # fmt: skip
    cluster = Settings(redis_cluster=True, redis_url="redis://node-a:7000",
                       celery_broker_url="amqp://guest:guest@mq:5672//")  # fmt: skip
    assert cluster.redis_cluster is True
    assert cluster.broker_url == "amqp://guest:guest@mq:5672//"
    # A Redis server of its own (not a node of the cluster) may still be the broker.
    own = Settings(redis_cluster=True, redis_url="redis://node-a:7000",
                   celery_broker_url="redis://broker:6379/0")  # fmt: skip
    assert own.broker_url == "redis://broker:6379/0"
    assert Settings(redis_url="redis://r:6379/2").redis_cluster is False


def test_a_redis_cluster_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMSVC_REDIS_CLUSTER", "true")
    monkeypatch.setenv("STREAMSVC_REDIS_URL", "redis://node-b:7001")
    monkeypatch.delenv("STREAMSVC_CELERY_BROKER_URL", raising=False)
    with pytest.raises(ValidationError, match="STREAMSVC_CELERY_BROKER_URL"):
        Settings()
    monkeypatch.setenv("STREAMSVC_CELERY_BROKER_URL", "amqp://mq//")
    assert Settings().redis_cluster is True


@pytest.mark.parametrize(
    ("redis_url", "says"),
    [
        (None, "needs STREAMSVC_REDIS_URL naming one node"),
        ("unix:///run/redis.sock", "redis:// or rediss://"),
        ("redis://node-a:7000/3", "database 0 only"),
    ],
)
def test_a_redis_cluster_needs_a_node_url(redis_url: str | None, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        Settings(redis_cluster=True, redis_url=redis_url, celery_broker_url="amqp://mq//")
