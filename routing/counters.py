"""Shared counters in the store, bumped atomically: round-robin positions fair across workers.

One `UPDATE ... SET value = value + 1 ... RETURNING value` is atomic on PostgreSQL and SQLite,
so two workers never get the same turn, and the position survives restarts.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from inbox.models import Counter
from inbox.store import insert_for


def next_value(session: Session, key: str) -> int:
    """Increment counter `key` (created at 0) and return its new value (1, 2, 3, ...)."""
    session.execute(
        insert_for(session)(Counter)
        .values(key=key, value=0)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    value = session.execute(
        update(Counter)
        .where(Counter.key == key)
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    ).scalar_one()
    return int(value)
