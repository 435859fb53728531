"""Run the store's Alembic migrations from inside Heard (`heard db upgrade`, `heard run`).

Every command starts by making sure the store is current. A store already at the newest
revisions is recognised with one plain query, without importing Alembic or running its
environment (together a sixth of a short command's start, say a cron'd `heard sync`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")

# The heads of migrations/versions; tests/inbox/test_migrate.py fails when this falls behind.
HEADS = frozenset({"0005_web", "0006_chat"})


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "heads") -> list[str]:
    """Bring the schema to the newest revision; returns the revisions now applied."""
    if revision == "heads" and at_heads(engine):
        return sorted(HEADS)
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return current(engine)


def at_heads(engine: Engine) -> bool:
    """Whether the store records exactly the newest revisions (False for a new store)."""
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
            return set(found) == HEADS
    except DBAPIError:  # no alembic_version table yet
        return False


def current(engine: Engine) -> list[str]:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return sorted(MigrationContext.configure(connection).get_current_heads())


def pending(engine: Engine) -> bool:
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    return set(current(engine)) != heads


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a migration from the models (developers only)."""
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
