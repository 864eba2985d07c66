"""The schema comes from Alembic; the models and the migrations agree."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from streamsvc.migrate import alembic_config
from streamsvc.models import metadata
from tests import test_schema_rules as schema_rules
from tests.harness import Infrastructure


def test_autogenerate_finds_no_difference(infra: Infrastructure, engine: Any) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            ),
            metadata,
        )
    assert diff == [], (
        f"models and migrations differ; run `alembic revision --autogenerate`: {diff}"
    )


def test_one_head_and_the_database_is_at_it(infra: Infrastructure, engine: Any) -> None:
    script = ScriptDirectory.from_config(alembic_config(infra.database_url))
    heads = script.get_heads()
    assert len(heads) <= 1, f"several migration heads: {heads}"
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    assert set(current) == set(heads)


def test_migrations_go_down_and_up_again(infra: Infrastructure, engine: Any) -> None:
    from alembic import command

    config = alembic_config(infra.database_url)
    command.downgrade(config, "base")
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_heads() == ()
    command.upgrade(config, "head")
    test_autogenerate_finds_no_difference(infra, engine)
    # What autogenerate cannot see: a downgrade that left a rule behind, or an upgrade
    # that does not bring it back, shows here.
    schema_rules.test_the_check_constraints_are_exactly_these(engine)
    schema_rules.test_the_triggers_are_exactly_these(engine)
