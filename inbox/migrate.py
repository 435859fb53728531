"""Run the store's Alembic migrations from inside Heard (`heard db upgrade`, `heard run`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "heads") -> list[str]:
    """Bring the schema to the newest revision; returns the revisions now applied."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return current(engine)


def current(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(MigrationContext.configure(connection).get_current_heads())


def pending(engine: Engine) -> bool:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    return set(current(engine)) != heads


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a migration from the models (developers only)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
