"""The one settings object of streamsvc, read from `STREAMSVC_*` environment variables.

Built once per process (CLI, ASGI factory, worker) and passed in; nothing reads the
environment anywhere else.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Development defaults are fixed (not random per process) so every API process and
# worker of one installation verifies each other's tokens. Production refuses them.
DEV_TOKEN_KEYS = "dev:streamsvc-development-token-key-not-secret"  # noqa: S105 (public on purpose)
DEV_PLATFORM_KEY = "sk_platform_development_not_secret"
DEV_WEBHOOK_SECRET = "whsec_streamsvc_development_not_secret"  # noqa: S105
# localstripe accepts any key of this shape; only used when it is started for us.
SIMULATED_STRIPE_KEY = "sk_test_streamsvc_simulated"
# What the checkout page hands localstripe's Stripe.js stand-in in simulated mode; it
# accepts any publishable key of this shape.
SIMULATED_PUBLISHABLE_KEY = "pk_test_streamsvc_simulated"


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class SettingsError(ValueError):
    """A setting is missing or unsafe; the message names the environment variable."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _parse_token_keys(value: object) -> object:
    """Accept JSON ({"k1": "secret"}) or `k1:secret,k2:secret`."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("{"):
        return json.loads(text)
    keys: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        kid, sep, secret = part.strip().partition(":")
        if not sep or not kid or not secret:
            raise ValueError("expected `key_id:secret` pairs separated by commas")
        keys[kid] = secret
    return keys


class Settings(BaseSettings):
    """Every setting of streamsvc. Field `x` is read from `STREAMSVC_X`."""

    model_config = SettingsConfigDict(
        env_prefix="STREAMSVC_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    env: Environment = Environment.development
    data_dir: Path = Path(".streamsvc")

    # None means: `streamsvc run` starts an embedded server (development only).
    database_url: str | None = None
    redis_url: str | None = None
    # STREAMSVC_REDIS_URL names one node of a Redis Cluster (redis://host:port, any node:
    # the others are found from it); every Redis client is then a cluster client. Celery
    # cannot use a cluster as its broker: STREAMSVC_CELERY_BROKER_URL must then be set.
    redis_cluster: bool = False
    celery_broker_url: str | None = None

    stripe_api_key: SecretStr | None = None
    stripe_api_base: str | None = None
    stripe_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=lambda: [SecretStr(DEV_WEBHOOK_SECRET)]
    )
    # The publishable key (pk_live_... / pk_test_...) the checkout page gives Stripe.js
    # for the Payment Element; public by design. Unused in simulated mode.
    stripe_publishable_key: str | None = None

    token_keys: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=lambda: {"dev": SecretStr(DEV_TOKEN_KEYS.partition(":")[2])}
    )
    token_signing_key_id: str = "dev"  # noqa: S105 (a key id, not a secret)
    platform_key: SecretStr = SecretStr(DEV_PLATFORM_KEY)
    # Rentals and purchases of recordings are sold; false closes them (their pages say
    # "On sale soon"), e.g. while an installation's payouts to rights holders are not
    # set up yet. Free recordings play either way.
    recording_paid_sales: bool = True
    # Where the platform operator's days and months begin and end (its fee statement).
    platform_timezone: str = Field(default="UTC", max_length=64)

    # Where the API is reached from outside; links in feeds, JSON-LD and mails use it.
    public_url: str = "http://127.0.0.1:8000"
    # The buyer's player page; `{ticket_id}` becomes the ticket's id and `{code}` its code,
    # which stays in the fragment (never sent to a server, so never logged).
    watch_url: str = "http://127.0.0.1:8000/watch/{ticket_id}#code={code}"

    # Buying
    order_max_quantity: int = Field(default=10, ge=1, le=100)  # per item
    reservation_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # How long a catalogue page may be served from a node's cache when no write
    # announced a change (seats sold, a start time passed); 0 turns the cache off.
    catalogue_cache_seconds: float = Field(default=2.0, ge=0, le=300)
    # How long an API process answers "sold out" for a tier it saw sold out without
    # asking PostgreSQL (orders/sold_out.py): a released seat waits this long at most
    # for the next buyer; 0 turns it off. Never an oversell: the hold decides a sale.
    order_sold_out_cache_seconds: float = Field(default=1.0, ge=0, le=10)
    pending_check_minutes: int = Field(default=5, ge=1, le=24 * 60)  # ask Stripe after this
    order_rate_per_ip: int = Field(default=30, ge=1)  # orders per client address per minute
    order_rate_per_email: int = Field(default=10, ge=1)  # orders per e-mail address per hour
    # "Check with Stripe" from the order page, per order per minute.
    payment_check_rate_per_order: int = Field(default=6, ge=1)
    # Ticket mails sent again (/tickets/resend): per e-mail address and per client
    # address, per hour.
    resend_rate_per_email: int = Field(default=3, ge=1)
    resend_rate_per_ip: int = Field(default=20, ge=1)
    # Days a buyer may ask for a refund after an event with sales is rescheduled (the
    # venue may set another period on each reschedule); never past the new start.
    reschedule_refund_days: int = Field(default=14, ge=1, le=90)

    # Staff (the console). A session ends after this long without a request, and at
    # the latest this long after its login.
    staff_session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    staff_session_absolute_hours: int = Field(default=12, ge=1, le=24 * 30)
    staff_password_min_length: int = Field(default=12, ge=8, le=128)
    # Failed logins: free tries per account from one address, then a delay doubling per
    # failure; per address (whichever accounts); and per account from all addresses
    # together, past which only a correct password with a one-time code gets in.
    staff_login_free_failures: int = Field(default=5, ge=1, le=1000)
    staff_login_address_failures: int = Field(default=30, ge=1, le=100_000)
    staff_login_account_failures: int = Field(default=200, ge=1, le=1_000_000)

    # Performers (/me): a mailed sign-in link works once for this many minutes; the
    # session it opens ends after this long idle, and at the latest this long after.
    # Links asked per e-mail address and per client address, per hour.
    performer_link_minutes: int = Field(default=15, ge=1, le=24 * 60)
    performer_session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    performer_session_absolute_hours: int = Field(default=12, ge=1, le=24 * 30)
    performer_link_rate_per_email: int = Field(default=5, ge=1, le=10_000)
    performer_link_rate_per_ip: int = Field(default=30, ge=1, le=100_000)

    # Viewing
    viewing_token_ttl_seconds: int = Field(default=300, ge=30, le=3600)
    viewing_clock_skew_seconds: int = Field(default=30, ge=0, le=300)
    # A device that sent no heartbeat for this long gives its slot back.
    viewing_session_idle_seconds: int = Field(default=420, ge=60, le=86_400)
    # How long an API process may answer authorize for an active session from memory.
    # Revocations, replacements and ended sessions reach every process by pub/sub
    # within milliseconds and clear it; this bounds staleness should a message be
    # lost. 0 asks Redis on every request.
    viewing_authorize_cache_seconds: float = Field(default=1.0, ge=0, le=10)
    # Authorize without X-Original-URI: refused, unless this trusts the media server in
    # front to check the path itself (one that cannot send it). Any event's any stream
    # then plays with any valid token.
    viewing_allow_token_only: bool = False
    # Beat copies the audience figures of events that ended (viewers per minute, by tier
    # and by country) from Redis into PostgreSQL this often, until two days after their
    # replay window closed; the console's audience report reads both.
    viewing_audience_copy_seconds: int = Field(default=900, ge=10, le=86_400)
    # The header a trusted CDN or proxy sets to the viewer's country (ISO 3166-1 alpha-2).
    country_header: str = "CF-IPCountry"
    # What a missing or unknown country means for events that restrict countries.
    missing_country: Literal["allow", "deny"] = "deny"

    # Mail (tickets). Without a host, mails are written to DATA_DIR/outbox instead.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    mail_from: str = "streamsvc <tickets@localhost>"

    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON in production, text otherwise
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    readiness_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    worker_heartbeat_seconds: int = Field(default=15, ge=1, le=3600)
    # Beat asks the outbox relay this often to apply durable events (a revocation, a
    # ticket mail) whose handlers failed right after their commit.
    outbox_relay_seconds: float = Field(default=5.0, ge=0.5, le=3600)
    # Beat reconciles every event with money activity this often, looking back this far
    # (and scans Stripe's balance transactions of that window for unknown charges).
    reconcile_interval_seconds: int = Field(default=900, ge=10, le=86_400)
    reconcile_lookback_hours: int = Field(default=72, ge=1, le=24 * 90)
    # ... and lists the Stripe payouts created this many days back, posting any whose
    # status the ledger does not hold yet (its `payout.*` webhook never came).
    stripe_payout_lookback_days: int = Field(default=35, ge=1, le=365)
    # The console's XLSX exports of more rows than this run as a job whose file is kept
    # in PostgreSQL (any API node serves it) for this many hours, then deleted by beat.
    export_job_rows: int = Field(default=20_000, ge=1, le=10_000_000)
    export_link_hours: int = Field(default=24, ge=1, le=24 * 30)
    # Personal data kept past its use (STREAMSVC_RETENTION_DAYS): Stripe webhook payloads
    # (their copies of buyers' addresses and names) are emptied, applied outbox messages,
    # idempotency records and development ticket mails deleted, once this many days old.
    retention_days: int = Field(default=90, ge=1, le=3650)
    # Paying the parties (streamsvc/payouts): a run pays events that ended at least this
    # many days before (time for refunds and disputes), balances of at least this many
    # minor units; the SEPA file's debtor is the operator's account.
    payout_delay_days: int = Field(default=14, ge=0, le=365)
    payout_threshold: int = Field(default=1000, ge=1, le=100_000_000)
    operator_name: str | None = Field(default=None, max_length=70)
    operator_iban: str | None = Field(default=None, max_length=50)
    operator_bic: str | None = Field(default=None, max_length=11)
    # The sector's listings (streamsvc/listings/uitdatabank): events with a UiTdatabank
    # event type are pushed to this Entry API (https://io.uitdatabank.be; unset: pushing
    # is off), with a client access token from the token URL (publiq's
    # .../realms/uitid/protocol/openid-connect/token) for this client id and secret,
    # written in this language.
    uitdatabank_url: str | None = Field(default=None, max_length=500)
    uitdatabank_token_url: str | None = Field(default=None, max_length=500)
    uitdatabank_client_id: str | None = Field(default=None, max_length=200)
    uitdatabank_client_secret: SecretStr | None = None
    uitdatabank_language: Literal["nl", "fr", "de", "en"] = "nl"

    _split_secrets = field_validator("stripe_webhook_secrets", mode="before")(_split_csv)
    _token_keys = field_validator("token_keys", mode="before")(_parse_token_keys)

    @field_validator("token_keys")
    @classmethod
    def _at_least_one_key(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        if not value:
            raise ValueError("at least one token key is required")
        return value

    @field_validator("platform_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA timezone (e.g. Europe/Brussels)") from exc
        return value

    @model_validator(mode="after")
    def _signing_key_known(self) -> Settings:
        if self.token_signing_key_id not in self.token_keys:
            raise ValueError(
                f"STREAMSVC_TOKEN_SIGNING_KEY_ID={self.token_signing_key_id!r} is not a key id "
                "in STREAMSVC_TOKEN_KEYS"
            )
        return self

    @model_validator(mode="after")
    def _uitdatabank_complete(self) -> Settings:
        if self.uitdatabank_url and not (
            self.uitdatabank_token_url and self.uitdatabank_client_id
            and self.uitdatabank_client_secret
        ):  # fmt: skip
            raise ValueError(
                "STREAMSVC_UITDATABANK_URL needs STREAMSVC_UITDATABANK_TOKEN_URL, "
                "STREAMSVC_UITDATABANK_CLIENT_ID and STREAMSVC_UITDATABANK_CLIENT_SECRET"
            )
        return self

    @model_validator(mode="after")
    def _cluster_complete(self) -> Settings:
        if not self.redis_cluster:
            return self
        if not self.redis_url:
            raise ValueError(
                "STREAMSVC_REDIS_CLUSTER needs STREAMSVC_REDIS_URL naming one node of the "
                "cluster (redis://host:port); `streamsvc run` never starts a cluster"
            )
        node = urlsplit(self.redis_url)
        if node.scheme not in ("redis", "rediss"):
            raise ValueError(
                "STREAMSVC_REDIS_CLUSTER needs a redis:// or rediss:// STREAMSVC_REDIS_URL "
                "(a cluster is not reached over a unix socket)"
            )
        if node.path.strip("/") not in ("", "0"):
            raise ValueError(
                "STREAMSVC_REDIS_URL names a database other than 0, and a Redis Cluster has "
                "database 0 only"
            )
        # The broker would default to the Redis URL, and kombu (Celery's transport) talks
        # to one Redis server, never to a cluster.
        broker = urlsplit(self.celery_broker_url or self.redis_url)
        if not self.celery_broker_url or (
            broker.scheme in ("redis", "rediss") and broker.netloc == node.netloc
        ):
            raise ValueError(
                "STREAMSVC_REDIS_CLUSTER needs STREAMSVC_CELERY_BROKER_URL set to a broker "
                "other than the cluster (e.g. RabbitMQ: amqp://user:password@host:5672//): "
                "Celery cannot use a Redis Cluster, and the broker defaults to "
                "STREAMSVC_REDIS_URL"
            )
        return self

    @model_validator(mode="after")
    def _sessions_outlive_tokens(self) -> Settings:
        if self.viewing_session_idle_seconds <= (
            self.viewing_token_ttl_seconds + self.viewing_clock_skew_seconds
        ):
            raise ValueError(
                "STREAMSVC_VIEWING_SESSION_IDLE_SECONDS must exceed the token lifetime plus "
                "the clock-skew leeway, or live tokens would outlive their sessions"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.production

    @property
    def payments_simulated(self) -> bool:
        """Whether payments go to the localstripe that `streamsvc run` started because no
        Stripe key was set: the checkout page then pays with a card token (no money moves)."""
        key = self.stripe_api_key.get_secret_value() if self.stripe_api_key else ""
        return key == SIMULATED_STRIPE_KEY and bool(self.stripe_api_base)

    @property
    def broker_url(self) -> str:
        """The Celery broker: STREAMSVC_CELERY_BROKER_URL, else the Redis URL."""
        if self.celery_broker_url:
            return self.celery_broker_url
        redis_url = self.require("redis_url")
        # kombu spells a Redis unix socket differently from redis-py.
        if redis_url.startswith("unix://"):
            return "redis+socket://" + redis_url.removeprefix("unix://")
        return redis_url

    def require(self, name: str) -> str:
        """The value of a URL setting that must be set by now, or a SettingsError naming it."""
        value = getattr(self, name)
        if not value:
            raise SettingsError(
                f"STREAMSVC_{name.upper()} is not set; set it, or start everything with "
                "`streamsvc run`, which starts embedded servers in development"
            )
        return str(value)

    def check_production(self) -> None:
        """Refuse to start in production with a missing or development secret."""
        if not self.is_production:
            return
        problems: list[str] = []
        for name in ("database_url", "redis_url"):
            if not getattr(self, name):
                problems.append(f"STREAMSVC_{name.upper()} is required in production")
        if self.stripe_api_key is None or not self.stripe_api_key.get_secret_value():
            problems.append("STREAMSVC_STRIPE_API_KEY is required in production")
        secrets = [s.get_secret_value() for s in self.stripe_webhook_secrets]
        if not secrets or DEV_WEBHOOK_SECRET in secrets:
            problems.append("STREAMSVC_STRIPE_WEBHOOK_SECRETS must be set to your Stripe secrets")
        dev_token_secret = DEV_TOKEN_KEYS.partition(":")[2]
        for kid, secret in self.token_keys.items():
            if secret.get_secret_value() == dev_token_secret:
                problems.append(f"STREAMSVC_TOKEN_KEYS key {kid!r} is the development default")
            elif len(secret.get_secret_value()) < 32:
                problems.append(f"STREAMSVC_TOKEN_KEYS key {kid!r} is shorter than 32 characters")
        platform = self.platform_key.get_secret_value()
        if platform == DEV_PLATFORM_KEY or len(platform) < 32:
            problems.append(
                "STREAMSVC_PLATFORM_KEY must be set to a secret of at least 32 characters"
            )
        if problems:
            raise SettingsError("refusing to start in production: " + "; ".join(problems))


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (plus explicit overrides) and check them."""
    settings = Settings(**overrides)  # type: ignore[arg-type]
    settings.check_production()
    return settings
