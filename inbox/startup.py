"""What every process does before working: migrate the store, load the rules, sync agents.

Loading the rules here makes a bad rules file stop `heard run` at start with every problem
listed, instead of failing route jobs one by one later.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from inbox import migrate

if TYPE_CHECKING:
    from inbox.app import Heard

log = logging.getLogger(__name__)


def prepare(heard: Heard, *, upgrade: bool = True) -> None:
    from inbox.rulebook import holder_for, rules_for

    if upgrade:
        migrate.upgrade(heard.engine)
    holder_for(heard)  # raises ConfigError with every problem of the rules
    with heard.sessions() as session, session.begin():
        rules_for(heard, session)  # mirrors the configured agents into the store


def first_run(heard: Heard) -> str | None:
    """Create the admin account when none can sign in; returns its one-time password."""
    from inbox.web.bootstrap import ensure_admin

    return ensure_admin(heard)
