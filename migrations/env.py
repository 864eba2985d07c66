"""Alembic environment: the URL comes from the caller or from STREAMSVC_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from config.settings import Settings
from streamsvc.db import make_engine
from streamsvc.models import metadata

# Any number that is ours alone: serialises concurrent `streamsvc migrate` runs.
MIGRATION_LOCK = 7_020_202


def run_migrations_online() -> None:
    url = context.config.attributes.get("url") or Settings().require("database_url")
    engine = make_engine(url, pool_size=1)
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
        connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                compare_type=True,
                compare_server_default=True,
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
            connection.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `streamsvc migrate`")
run_migrations_online()
