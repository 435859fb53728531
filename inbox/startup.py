"""What every process does before working: migrate the store, load rules, sync agents."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from inbox import migrate

if TYPE_CHECKING:
    from inbox.app import Heard

log = logging.getLogger(__name__)


def prepare(heard: Heard, *, upgrade: bool = True) -> None:
    if upgrade:
        migrate.upgrade(heard.engine)
