"""Hot reload: a changed rules file goes live; a bad edit keeps the last good rules."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from inbox.errors import ConfigError
from rules.runtime import RulesHolder, load_from_paths

MAIN = '[rules]\nfiles = ["rules.toml"]\ndefault_language = "de"\n\n[agents.ann]\n[teams.support]\nagents = ["ann"]\n'


def write(path: Path, text: str) -> None:
    """Write and move the mtime forward, as an editor saving a second later would."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


def holder(tmp_path: Path) -> RulesHolder:
    main = tmp_path / "heard.toml"
    main.write_text(MAIN)
    write(tmp_path / "rules.toml", '[[rules]]\nname = "one"\nthen.team = "support"\n')
    return RulesHolder(lambda: load_from_paths(main), watch=[main], check_every=3600)


def test_changed_file_is_reloaded(tmp_path: Path) -> None:
    rules = holder(tmp_path)
    assert [r.name for r in rules.current.rules] == ["one"]
    assert rules.current.default_language == "de"
    assert not rules.reload_if_changed()
    write(tmp_path / "rules.toml", '[[rules]]\nname = "two"\n')
    assert rules.reload_if_changed()
    assert [r.name for r in rules.current.rules] == ["two"] and rules.version == 2


def test_bad_edit_keeps_last_good_rules_and_logs_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = holder(tmp_path)
    write(tmp_path / "rules.toml", '[[rules]]\nname = "bad"\nthen.team = "suport"\n')
    with caplog.at_level(logging.ERROR, logger="rules.runtime"):
        assert not rules.reload_if_changed()
    assert [r.name for r in rules.current.rules] == ["one"]
    assert "keeping the last good rules" in caplog.text
    assert "rules[0].then.team: unknown team 'suport'" in caplog.text
    assert rules.last_problems and rules.version == 1


def test_adding_a_file_to_the_main_config_watches_it(tmp_path: Path) -> None:
    rules = holder(tmp_path)
    write(tmp_path / "extra.toml", '[[rules]]\nname = "extra"\n')
    write(tmp_path / "heard.toml", MAIN.replace('["rules.toml"]', '["rules.toml", "extra.toml"]'))
    assert rules.reload_if_changed()
    assert [r.name for r in rules.current.rules] == ["one", "extra"]
    write(tmp_path / "extra.toml", '[[rules]]\nname = "extra2"\n')
    assert rules.reload_if_changed()
    assert [r.name for r in rules.current.rules] == ["one", "extra2"]


def test_first_load_errors_go_to_the_caller(tmp_path: Path) -> None:
    main = tmp_path / "heard.toml"
    main.write_text('[rules]\nfiles = ["missing.toml"]\n')
    with pytest.raises(ConfigError, match=r"missing\.toml: file not found"):
        RulesHolder(lambda: load_from_paths(main))
