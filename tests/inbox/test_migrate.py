"""The store's migrations: the shortcut for a current store must know every head."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text

from inbox import migrate
from inbox.store import make_engine


def test_heads_constant_matches_the_migration_scripts() -> None:
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    assert set(scripts.get_heads()) == migrate.HEADS, "update migrate.HEADS with the new head"


def test_a_new_store_is_migrated_and_a_current_one_recognised(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    assert not migrate.at_heads(engine)
    assert migrate.upgrade(engine) == sorted(migrate.HEADS)
    assert migrate.at_heads(engine) and not migrate.pending(engine)
    with engine.begin() as connection:  # a store one migration behind is upgraded again
        connection.execute(text("DELETE FROM alembic_version WHERE version_num = '0006_chat'"))
        connection.execute(text("ALTER TABLE agents DROP COLUMN last_seen_at"))
    assert not migrate.at_heads(engine)
    assert migrate.upgrade(engine) == sorted(migrate.HEADS)
    with engine.connect() as connection:
        columns = [row[1] for row in connection.execute(text("PRAGMA table_info(agents)"))]
    assert "last_seen_at" in columns
    engine.dispose()
