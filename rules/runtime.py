"""The live rules of a running Heard: loaded once, reloaded when a file changes.

Reload is mtime polling, throttled to once a second, done by whoever asks for the rules (the
route actor, the SLA tick): it needs no extra thread, works the same in every worker process,
and a test can trigger it deterministically. A bad edit keeps the last good rules and logs every
problem, because a typo in rules.toml must not stop acknowledgements.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from inbox.errors import ConfigError
from rules.load import load_ruleset
from rules.ruleset import RuleSet
from rules.tomlsource import TomlSource, load_toml

log = logging.getLogger(__name__)

Stamp = tuple[tuple[str, int, int] | None, ...]


def load_from_paths(
    main_path: Path | None,
    *,
    main_source: TomlSource | None = None,
    default_language: str = "en",
    known_channels: Iterable[str] | None = None,
    known_accounts: Iterable[str] | None = None,
) -> tuple[RuleSet, list[Path]]:
    """Read the main config (fresh from disk when it has a path) and the rule files it names."""
    source = load_toml(main_path) if main_path is not None else main_source
    files = rule_files(source)
    ruleset = load_ruleset(
        source,
        files,
        default_language=_default_language(source, default_language),
        known_channels=known_channels,
        known_accounts=known_accounts,
    )
    return ruleset, files


def rule_files(source: TomlSource | None) -> list[Path]:
    if source is None:
        return []
    section = source.data.get("rules")
    names: Any = section.get("files", []) if isinstance(section, dict) else []
    base = Path(source.path).resolve().parent
    return [base / str(name) for name in names]


def _default_language(source: TomlSource | None, fallback: str) -> str:
    section = source.data.get("rules") if source else None
    value = section.get("default_language") if isinstance(section, dict) else None
    return value if isinstance(value, str) else fallback


class RulesHolder:
    """Holds the current RuleSet; `current` reloads it when a watched file changed."""

    def __init__(
        self,
        loader: Callable[[], tuple[RuleSet, Sequence[Path]]],
        *,
        watch: Sequence[Path] = (),
        check_every: float = 1.0,
    ) -> None:
        self._loader = loader
        self._extra_watch = list(watch)
        self._check_every = check_every
        self._lock = threading.Lock()
        ruleset, files = loader()  # the first load must succeed: ConfigError goes to the caller
        self._current = ruleset
        self._watched = [*self._extra_watch, *files]
        self._stamp = _stamp(self._watched)
        self._checked_at = time.monotonic()
        self.version = 1
        # The version whose agents were mirrored into the store (set by the store wiring).
        self.synced_version: int | None = None
        self.last_problems: list[str] = []

    @property
    def current(self) -> RuleSet:
        if time.monotonic() - self._checked_at >= self._check_every:
            self.reload_if_changed()
        return self._current

    def reload_if_changed(self) -> bool:
        """Reload when a watched file's mtime or size changed; True when new rules are live."""
        with self._lock:
            self._checked_at = time.monotonic()
            stamp = _stamp(self._watched)
            if stamp == self._stamp:
                return False
            self._stamp = stamp
            return self._reload()

    def reload(self) -> bool:
        with self._lock:
            return self._reload()

    def _reload(self) -> bool:
        try:
            ruleset, files = self._loader()
        except ConfigError as exc:
            self.last_problems = [str(p) for p in exc.problems]
            log.error(
                "rules not reloaded, keeping the last good rules:\n  %s",
                "\n  ".join(self.last_problems),
            )
            return False
        self._watched = [*self._extra_watch, *files]
        self._stamp = _stamp(self._watched)
        self._current = ruleset
        self.version += 1
        self.last_problems = []
        log.info("rules reloaded: %d rules, %d teams", len(ruleset.rules), len(ruleset.teams))
        return True


def _stamp(paths: Sequence[Path]) -> Stamp:
    out: list[tuple[str, int, int] | None] = []
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            out.append(None)
            continue
        out.append((str(path), info.st_mtime_ns, info.st_size))
    return tuple(out)
