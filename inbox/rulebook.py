"""The running Heard's rules: loaded from the settings, reloaded on change, agents kept in sync.

`rules_for(heard, session)` is what the route and SLA actors call: it returns the current
RuleSet and, the first time a version is seen, mirrors its agents into the store (in a savepoint,
so two workers doing it at once cannot fail each other's transaction).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.registry import KINDS
from inbox.config import Settings
from routing.agents import sync_agents
from rules.ruleset import RuleSet
from rules.runtime import RulesHolder, load_from_paths

if TYPE_CHECKING:
    from inbox.app import Heard

log = logging.getLogger(__name__)


def load_rules(settings: Settings) -> tuple[RuleSet, list[Path]]:
    path = Path(settings.path)
    on_disk = settings.source is not None and path.is_file()
    return load_from_paths(
        path if on_disk else None,
        main_source=settings.source,
        default_language=settings.rules.default_language,
        known_channels=list(KINDS),
        known_accounts=[c.name for c in settings.channels],
    )


def holder_for(heard: Heard) -> RulesHolder:
    """The Heard's RulesHolder, made on first use (raises ConfigError if the rules are bad)."""
    if heard.rules is None:
        path = Path(heard.settings.path)
        watch = [path] if heard.settings.source is not None and path.is_file() else []
        heard.rules = RulesHolder(lambda: load_rules(heard.settings), watch=watch)
    holder: RulesHolder = heard.rules
    return holder


def rules_for(heard: Heard, session: Session) -> RuleSet:
    holder = holder_for(heard)
    ruleset = holder.current
    if holder.synced_version != holder.version:
        try:
            with session.begin_nested():
                sync_agents(session, ruleset)
        except IntegrityError:
            log.info("agents were synced by another worker at the same time")
        holder.synced_version = holder.version
    return ruleset
